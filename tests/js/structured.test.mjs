// Structured output through `minnow serve` and the official clients: every schema of
// tests/data/schemas.json, for 20 seeds each, on stories260K and on tiny random-weight models
// (whose free output is never JSON), yields text that parses and that ajv (an independent JSON
// Schema validator) accepts. Also Ollama's format "json", OpenAI's json_object and strict
// json_schema, and 400s for schemas or grammars that cannot work. Run by CTest (js_structured)
// with MINNOW_BINARY and MINNOW_SHARED_DIR set; exits 77 (skipped) without the npm packages or
// ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.MINNOW_BINARY;
const shared = process.env.MINNOW_SHARED_DIR ?? '';
const models = {
  stories: path.join(shared, 'models/stories260K.gguf'),
  'tiny-llama': path.join(shared, 'reference/tiny-llama-q8_0.gguf'),
  'tiny-qwen2': path.join(shared, 'reference/tiny-qwen2-f32.gguf'),
};
requireOrSkip(['openai', 'ollama', 'ajv', 'ajv-formats'], Object.values(models), `the models of ${shared}`);
const { default: OpenAI } = await import('openai');
const { Ollama } = await import('ollama');
const { default: Ajv2020 } = await import('ajv/dist/2020.js');
const { default: addFormats } = await import('ajv-formats');
const { startServe } = await import('./serve.mjs');

const corpus = JSON.parse(fs.readFileSync(path.join(here, '../data/schemas.json'), 'utf8'));
const SEEDS = 20;
let serve, base;

before(async () => {
  const modelfiles = Object.fromEntries(Object.entries(models).map(([name, file]) => [name, `FROM ${file}\n`]));
  serve = await startServe(binary, { models: modelfiles, prefix: 'minnow-js-structured-' });
  base = serve.base;
});

after(() => serve?.stop());

function validator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

test('every schema of the corpus, 20 seeds each, parses and validates (ollama client)', async () => {
  assert.ok(corpus.length >= 30, `${corpus.length} schemas`);
  const ollama = new Ollama({ host: base });
  const ajv = validator();
  const names = Object.keys(models);
  const failures = [];
  let runs = 0;
  for (const [i, { name, schema }] of corpus.entries()) {
    const validate = ajv.compile(schema);
    for (let seed = 1; seed <= SEEDS; ++seed) {
      const model = names[(i + seed) % names.length];
      const r = await ollama.generate({ model, prompt: `Reply in JSON (${name}):`, raw: true, format: schema,
                                        options: { seed, temperature: 1, num_predict: 256 } });
      ++runs;
      let value;
      try {
        value = JSON.parse(r.response);
      } catch (e) {
        failures.push(`${name} seed ${seed} on ${model}: not JSON: ${JSON.stringify(r.response)}`);
        continue;
      }
      if (!validate(value))
        failures.push(`${name} seed ${seed} on ${model}: ${ajv.errorsText(validate.errors)}: ${r.response}`);
    }
  }
  assert.equal(runs, corpus.length * SEEDS);
  assert.deepEqual(failures, []);
});

test('ollama format "json" gives a JSON object; streamed equals unstreamed', async () => {
  const ollama = new Ollama({ host: base });
  const req = { model: 'tiny-llama', messages: [{ role: 'user', content: 'hi' }], format: 'json',
                options: { seed: 3, temperature: 1, num_predict: 128 } };
  const whole = await ollama.chat(req);
  const value = JSON.parse(whole.message.content);
  assert.equal(typeof value, 'object');
  assert.ok(!Array.isArray(value) && value !== null);
  let text = '';
  for await (const part of await ollama.chat({ ...req, stream: true })) text += part.message.content;
  assert.equal(text, whole.message.content);
});

test('openai response_format: json_object and strict json_schema', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const obj = await openai.chat.completions.create({ model: 'stories', messages, seed: 5, temperature: 1,
                                                     max_tokens: 128, response_format: { type: 'json_object' } });
  assert.equal(typeof JSON.parse(obj.choices[0].message.content), 'object');
  const schema = corpus.find((c) => c.name === 'strict-openai').schema;
  const validate = validator().compile(schema);
  for (const seed of [1, 2, 3]) {
    const r = await openai.chat.completions.create({
      model: 'tiny-qwen2', messages, seed, temperature: 1, max_tokens: 128,
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } },
    });
    const value = JSON.parse(r.choices[0].message.content);
    assert.ok(validate(value), JSON.stringify(validate.errors));
  }
  // An enum schema classifies: exactly one of the labels.
  const label = await openai.chat.completions.create({
    model: 'stories', messages: [{ role: 'user', content: 'Is this spam?' }], temperature: 0, max_tokens: 16,
    response_format: { type: 'json_schema', json_schema: { name: 'label', schema: { enum: ['spam', 'ham'] } } },
  });
  assert.ok(['"spam"', '"ham"'].includes(label.choices[0].message.content), label.choices[0].message.content);
});

test('schemas and grammars that cannot work are 400s with the reason', async () => {
  const ollama = new Ollama({ host: base });
  await assert.rejects(
    ollama.generate({ model: 'stories', prompt: 'x', format: { type: 'integer', multipleOf: 3 } }),
    (e) => e.status_code === 400 && /multipleOf/.test(e.message));
  await assert.rejects(
    ollama.generate({ model: 'stories', prompt: 'x', format: { type: 'array', minItems: 3, maxItems: 1 } }),
    (e) => e.status_code === 400 && /maxItems/.test(e.message));
  await assert.rejects(ollama.generate({ model: 'stories', prompt: 'x', format: 'yaml' }),
                       (e) => e.status_code === 400 && /format/.test(e.message));
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(
    openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'x' }],
                                     response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $ref: '#/nope' } } } }),
    (e) => e.status === 400 && /nope/.test(e.message));
  const raw = await fetch(`${base}/api/generate`, {
    method: 'POST', body: JSON.stringify({ model: 'stories', prompt: 'x', grammar: 'root ::= "a" root' }) });
  assert.equal(raw.status, 400);
  assert.match((await raw.json()).error, /never finish/);
});
