// Runs ONNX files with ONNX Runtime (CPU) for mdlc's export tests.
//
// usage: node run.js REQUEST.json
//
// REQUEST is {"cases": [{"model": "a.onnx", "inputs": {"x": {"type":
// "float32" | "int32" | "bool", "dims": [...], "data": [...]}}}, ...]}. It
// prints one JSON array to stdout, an element per case: {"outputs": {"y":
// {"dims": [...], "data": [...]}}} or {"error": "..."}.
'use strict';

const fs = require('node:fs');
const ort = require('onnxruntime-node');

function tensor(t) {
  switch (t.type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(t.data), t.dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(t.data), t.dims);
  }
  throw new Error(`unknown tensor type ${t.type}`);
}

async function runCase(c) {
  const session = await ort.InferenceSession.create(c.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feeds = {};
  for (const [name, t] of Object.entries(c.inputs)) {
    feeds[name] = tensor(t);
  }
  const results = await session.run(feeds);
  const outputs = {};
  for (const [name, t] of Object.entries(results)) {
    outputs[name] = { dims: Array.from(t.dims), data: Array.from(t.data, Number) };
  }
  await session.release();
  return { outputs };
}

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const out = [];
  for (const c of req.cases) {
    try {
      out.push(await runCase(c));
    } catch (e) {
      out.push({ error: String(e && e.message ? e.message : e) });
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
