// Fixtures of mdlc's importer tests from TF.js (npm @tensorflow/tfjs, pure
// JS, CPU backend): the Keras conventions (kernel [in, out], conv kernels
// HWIO, NHWC activations, BatchNormalization's gamma, beta, moving_mean and
// moving_variance).
//
// Builds the models of ../mlp.mdl and ../cnn.mdl with tf.sequential, gives
// them deterministic weights (a fixed linear congruential sequence, moving
// variances positive), and writes into the directory given (default ..):
//
//   tfjs_NAME.safetensors       the weights under their TF.js names
//                               (dense_Dense1/kernel, ...), in layer order
//   tfjs_NAME_pred.safetensors  x: fixed inputs (NHWC); probs: model.predict(x)
//
// Run: node gen_tfjs.js [DIR] (after npm ci --ignore-scripts here).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// lcg returns a generator of floats in [-1, 1) from a fixed seed.
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) / (1 << 23) - 1;
  };
}

function saveSafetensors(file, tensors) {
  const header = {};
  const blobs = [];
  let offset = 0;
  for (const [name, {shape, data}] of tensors) {
    const buf = Buffer.alloc(4 * data.length);
    data.forEach((v, i) => buf.writeFloatLE(v, 4 * i));
    header[name] = {dtype: 'F32', shape, data_offsets: [offset, offset + buf.length]};
    blobs.push(buf);
    offset += buf.length;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(text), ...blobs]));
}

function mlp() {
  const m = tf.sequential();
  m.add(tf.layers.dense({units: 16, activation: 'relu', inputShape: [784]}));
  m.add(tf.layers.dense({units: 10, activation: 'softmax'}));
  return m;
}

function cnn() {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({filters: 4, kernelSize: 3, inputShape: [10, 10, 2]}));
  m.add(tf.layers.batchNormalization({epsilon: 1e-5}));
  m.add(tf.layers.activation({activation: 'relu'}));
  m.add(tf.layers.maxPooling2d({poolSize: 2}));
  m.add(tf.layers.conv2d({filters: 6, kernelSize: 3, activation: 'relu'}));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dropout({rate: 0.25}));
  m.add(tf.layers.dense({units: 16, activation: 'relu'}));
  m.add(tf.layers.dense({units: 10, activation: 'softmax'}));
  return m;
}

function make(name, model, inShape, out) {
  const next = lcg(name.length * 7919 + 1);
  // Weights: a scale that keeps activations in range; variances in [0.5, 1.5).
  const weights = model.weights.map((w) => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const data = Float32Array.from({length: n}, () => {
      const u = next();
      if (w.name.endsWith('moving_variance')) return 1 + 0.5 * u;
      if (w.name.endsWith('gamma')) return 1 + 0.25 * u;
      return u / Math.sqrt(fanIn);
    });
    return [w.name, {shape: w.shape, data}];
  });
  model.setWeights(weights.map(([, {shape, data}]) => tf.tensor(data, shape)));
  const n = 4;
  const xs = Float32Array.from({length: n * inShape.reduce((a, b) => a * b, 1)}, () => next());
  const probs = model.predict(tf.tensor(xs, [n, ...inShape])).dataSync();
  saveSafetensors(path.join(out, `tfjs_${name}.safetensors`), weights);
  saveSafetensors(path.join(out, `tfjs_${name}_pred.safetensors`), [
    ['x', {shape: [n, ...inShape], data: xs}],
    ['probs', {shape: [n, 10], data: Array.from(probs)}],
  ]);
}

async function main() {
  await tf.setBackend('cpu');
  const out = process.argv[2] || path.join(__dirname, '..');
  make('mlp', mlp(), [784], out);
  make('cnn', cnn(), [10, 10, 2], out);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
