// ONNX Runtime (npm onnxruntime-node, CPU execution provider) side of
// bench/inference.sh: times session.run of one model at each batch size.
//
// usage: node bench.js MODEL.onnx THREADS SECONDS DIMS BATCH...
//   DIMS: the per-example input shape, comma-separated (784 or 1,28,28)
// Prints one line per batch size: batch N ns/op X examples/s Y.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, threads, seconds, dims, ...batches] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const per = dims.split(',').map(Number);
  const size = per.reduce((a, b) => a * b, 1);
  for (const b of batches.map(Number)) {
    const data = new Float32Array(b * size);
    let s = 1;
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s >>> 8) / (1 << 24);
    }
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [b, ...per])};
    for (let i = 0; i < 10; i++) await session.run(feeds); // warm up
    let n = 0;
    const start = process.hrtime.bigint();
    const limit = BigInt(Math.round(Number(seconds) * 1e9));
    let elapsed = 0n;
    while (elapsed < limit) {
      await session.run(feeds);
      n++;
      elapsed = process.hrtime.bigint() - start;
    }
    const ns = Number(elapsed) / n;
    console.log(`batch ${b} ns/op ${ns.toFixed(0)} examples/s ${((b * 1e9) / ns).toFixed(1)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
