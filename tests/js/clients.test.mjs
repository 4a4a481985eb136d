// minnow serve driven by the official JavaScript clients (npm: openai, ollama) on a free
// loopback port, with stories260K in a temporary store: every endpoint they cover (embeddings
// included), streamed and not, and errors for unknown models and malformed requests. Pulls come
// from a small server with Hugging Face's URL layout started here (MINNOW_HF_ENDPOINT). Run by
// CTest (tests/CMakeLists.txt)
// with MINNOW_BINARY and MINNOW_SHARED_DIR set; exits 77 (skipped) without the clients
// (`npm ci` in tests/js, done by scripts/setup) or without ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { requireOrSkip } from './serve.mjs';

const binary = process.env.MINNOW_BINARY;
const stories = path.join(process.env.MINNOW_SHARED_DIR ?? '', 'models/stories260K.gguf');
requireOrSkip(['openai', 'ollama'], [stories], stories);
const { default: OpenAI } = await import('openai');
const { Ollama } = await import('ollama');
const { startServe } = await import('./serve.mjs');

// stories260K's greedy continuation of "Once upon a time".
const STORY = ', there was a little girl named Lily.';
let serve, base, store, hub, hubFile, hubSha;

// Hugging Face's layout for one repository, js-org/stories-GGUF: the tree API lists its GGUF
// with the SHA-256, /resolve/ redirects to a CDN path, as huggingface.co does.
function startHub(file) {
  hubFile = fs.readFileSync(file);
  hubSha = crypto.createHash('sha256').update(hubFile).digest('hex');
  hub = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://hub');
    if (pathname === '/api/models/js-org/stories-GGUF/tree/main') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify([{ type: 'file', oid: '0', path: 'stories-Q8_0.gguf', size: hubFile.length,
                                lfs: { oid: hubSha, size: hubFile.length, pointerSize: 134 } }]));
    } else if (pathname === '/js-org/stories-GGUF/resolve/main/stories-Q8_0.gguf') {
      res.writeHead(302, { Location: `/cdn/${hubSha}` });
      res.end();
    } else if (pathname === `/cdn/${hubSha}`) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': hubFile.length });
      res.end(hubFile);
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'Repository not found' }));
    }
  });
  return new Promise((resolve) => hub.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${hub.address().port}`)));
}

before(async () => {
  serve = await startServe(binary, {
    models: { stories: `FROM ${stories}\n` },
    prepare: async (store, env) => {
      // The hub serves a Q8_0 copy: other bytes than the store's stories, so a pull downloads.
      const quantized = path.join(store, 'stories-Q8_0.gguf');
      execFileSync(binary, ['quantize', stories, quantized, 'q8_0'], { env });
      env.MINNOW_HF_ENDPOINT = await startHub(quantized);
    },
  });
  ({ base, store } = serve);
});

after(() => {
  serve?.stop();
  hub?.close();
});

const greedy = { temperature: 0, num_predict: 12 };

test('ollama: list, show, ps, copy and delete', async () => {
  const ollama = new Ollama({ host: base });
  const list = await ollama.list();
  assert.deepEqual(list.models.map((m) => m.name), ['stories:latest']);
  assert.equal(list.models[0].digest.length, 64);
  const show = await ollama.show({ model: 'stories' });
  assert.equal(show.details.family, 'llama');
  assert.equal(show.model_info['general.architecture'], 'llama');
  await ollama.generate({ model: 'stories', prompt: 'x', raw: true, options: { num_predict: 1 } });
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, 'stories:latest');
  await ollama.copy({ source: 'stories', destination: 'stories2' });
  assert.equal((await ollama.list()).models.length, 2);
  await ollama.delete({ model: 'stories2' });
  assert.equal((await ollama.list()).models.length, 1);
});

test('ollama: generate, streamed and not', async () => {
  const ollama = new Ollama({ host: base });
  const whole = await ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true, options: greedy });
  assert.ok(whole.response.startsWith(STORY.slice(0, 20)), whole.response);
  assert.equal(whole.done, true);
  assert.equal(whole.eval_count, 12);
  assert.ok(whole.total_duration > 0 && whole.eval_duration > 0);
  let text = '';
  let last;
  for await (const part of await ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true,
                                                   options: greedy, stream: true })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, whole.response);
  assert.equal(last.done, true);
  assert.equal(last.done_reason, 'length');
});

test('ollama: chat, streamed and not, with stop', async () => {
  const ollama = new Ollama({ host: base });
  const messages = [{ role: 'user', content: 'Tell me a story.' }];
  const whole = await ollama.chat({ model: 'stories', messages, options: greedy });
  assert.equal(whole.message.role, 'assistant');
  assert.equal(whole.eval_count, 12);
  let text = '';
  for await (const part of await ollama.chat({ model: 'stories', messages, options: greedy, stream: true }))
    text += part.message.content;
  assert.equal(text, whole.message.content);
  const cut = await ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true,
                                     options: { ...greedy, stop: [' little'] } });
  assert.equal(cut.response, ', there was a');
  assert.equal(cut.done_reason, 'stop');
});

test('ollama: errors', async () => {
  const ollama = new Ollama({ host: base });
  await assert.rejects(ollama.generate({ model: 'nope', prompt: 'x' }), (e) => e.status_code === 404);
  await assert.rejects(ollama.generate({ model: 'stories', prompt: 'x', options: { temperature: 'hot' } }),
                       (e) => e.status_code === 400 && /temperature/.test(e.message));
  const raw = await fetch(`${base}/api/chat`, { method: 'POST', body: '{"model": "stories", "messages": [' });
  assert.equal(raw.status, 400);
  assert.match((await raw.json()).error, /not valid JSON/);
});

test('openai: models, chat completions streamed and not', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });
  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['stories:latest']);
  const req = { model: 'stories', messages: [{ role: 'user', content: 'Tell me a story.' }], temperature: 0,
                max_tokens: 10 };
  const whole = await openai.chat.completions.create(req);
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].finish_reason, 'length');
  assert.equal(whole.usage.completion_tokens, 10);
  let text = '';
  let usage;
  const stream = await openai.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(usage.completion_tokens, 10);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test('openai: completions with stop, seed, logprobs and n', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });
  const c = await openai.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 12,
                                             temperature: 0, logprobs: 2 });
  assert.ok(c.choices[0].text.startsWith(STORY.slice(0, 20)), c.choices[0].text);
  assert.equal(c.choices[0].logprobs.tokens.length, 12);
  assert.ok(c.choices[0].logprobs.token_logprobs.every((x) => x <= 0));
  const stopped = await openai.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 12,
                                                   temperature: 0, stop: [' little'] });
  assert.equal(stopped.choices[0].text, ', there was a');
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  const seeded = { model: 'stories', prompt: 'Once upon a time', max_tokens: 8, temperature: 1, seed: 42, n: 2 };
  const a = await openai.completions.create(seeded);
  const b = await openai.completions.create(seeded);
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((x) => x.text), b.choices.map((x) => x.text));
  let streamed = '';
  for await (const chunk of await openai.completions.create({ model: 'stories', prompt: 'Once upon a time',
                                                             max_tokens: 12, temperature: 0, stream: true }))
    streamed += chunk.choices[0]?.text ?? '';
  assert.equal(streamed, c.choices[0].text);
});

test('openai: completions echo the prompt with its logprobs (log-likelihood scoring)', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });
  const prompt = 'Once upon a time';
  const gen = await openai.completions.create({ model: 'stories', prompt, max_tokens: 8, temperature: 0, logprobs: 1 });
  const continuation = gen.choices[0].text;
  const scored = await openai.completions.create({ model: 'stories', prompt: prompt + continuation, echo: true,
                                                  logprobs: 3, max_tokens: 0 });
  const choice = scored.choices[0];
  assert.equal(choice.text, prompt + continuation);
  assert.equal(choice.finish_reason, 'length');
  assert.equal(scored.usage.completion_tokens, 0);
  // What lm-evaluation-harness reads: an entry per prompt token in each array, null for the
  // first token (nothing precedes it), offsets into the text, the likeliest alternatives.
  const { tokens, token_logprobs, top_logprobs, text_offset } = choice.logprobs;
  assert.equal(tokens.length, scored.usage.prompt_tokens);
  for (const a of [token_logprobs, top_logprobs, text_offset]) assert.equal(a.length, tokens.length);
  assert.equal(token_logprobs[0], null);
  assert.equal(top_logprobs[0], null);
  assert.equal(tokens.join(''), choice.text);
  let at = 0;
  tokens.forEach((t, i) => {
    assert.equal(text_offset[i], at);
    at += Buffer.byteLength(t);
  });
  for (let i = 1; i < tokens.length; i++) {
    const top = Object.values(top_logprobs[i]);
    assert.ok(token_logprobs[i] <= 0 && top.length >= 1 && top.length <= 3, JSON.stringify(top_logprobs[i]));
    assert.ok(Math.max(...top) >= token_logprobs[i]);
  }
  // The continuation's tokens (those after the context, as the harness cuts them) have the
  // logprobs their generation reported, and each was the likeliest (the harness's is_greedy).
  const from = text_offset.findIndex((o) => o >= prompt.length);
  assert.deepEqual(tokens.slice(from), gen.choices[0].logprobs.tokens);
  token_logprobs.slice(from).forEach((lp, k) => {
    assert.ok(Math.abs(lp - gen.choices[0].logprobs.token_logprobs[k]) < 1e-4, `${k}: ${lp}`);
    assert.equal(lp, Math.max(...Object.values(top_logprobs[from + k])));
  });
});

test('openai: errors in the OpenAI shape', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  await assert.rejects(openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
                       (e) => e.status === 404 && e.error?.code === 'model_not_found');
  await assert.rejects(openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'x' }],
                                                        temperature: 7 }),
                       (e) => e.status === 400 && /temperature/.test(e.message));
  await assert.rejects(openai.chat.completions.create({ model: 'stories', messages: [] }), (e) => e.status === 400);
});

test('ollama: pull from Hugging Face streamed and not, create', async () => {
  const ollama = new Ollama({ host: base });
  const model = 'hf.co/js-org/stories-GGUF:Q8_0';
  const parts = [];
  for await (const part of await ollama.pull({ model, stream: true })) parts.push(part);
  assert.equal(parts[0].status, 'pulling manifest');
  assert.deepEqual(parts.slice(-3).map((p) => p.status), ['verifying sha256 digest', 'writing manifest', 'success']);
  const bytes = parts.filter((p) => p.digest);
  assert.ok(bytes.length >= 1);
  assert.equal(bytes.at(-1).digest, `sha256:${hubSha}`);
  assert.equal(bytes.at(-1).total, hubFile.length);
  assert.equal(bytes.at(-1).completed, hubFile.length);
  // No quant named: the repository's only GGUF, already in the store.
  assert.deepEqual(await ollama.pull({ model: 'hf.co/js-org/stories-GGUF' }), { status: 'success' });
  const names = (await ollama.list()).models.map((m) => m.name);
  assert.ok(names.includes(model) && names.includes('hf.co/js-org/stories-GGUF:latest'), names.join());
  const out = await ollama.generate({ model, prompt: 'Once upon a time', raw: true, options: { num_predict: 4 } });
  assert.equal(out.eval_count, 4);
  await assert.rejects(ollama.pull({ model: 'hf.co/js-org/missing' }),
                       (e) => e.status_code === 500 && /not found/.test(e.message));
  await assert.rejects(ollama.pull({ model: 'not a name' }), (e) => e.status_code === 400);

  const created = await ollama.create({ model: 'stories-terse', from: model, system: 'Be terse.',
                                        parameters: { num_predict: 5, temperature: 0 } });
  assert.equal(created.status, 'success');
  const show = await ollama.show({ model: 'stories-terse' });
  assert.equal(show.system, 'Be terse.');
  assert.match(show.parameters, /num_predict 5/);
  assert.equal((await ollama.generate({ model: 'stories-terse', prompt: 'Once upon a time', raw: true })).eval_count, 5);
  const statuses = [];
  for await (const part of await ollama.create({ model: 'stories-copy', from: 'stories', stream: true }))
    statuses.push(part.status);
  assert.equal(statuses.at(-1), 'success');
  await assert.rejects(ollama.create({ model: 'x', from: 'nope' }), (e) => e.status_code === 400 && /nope/.test(e.message));
  await assert.rejects(ollama.create({ model: 'x', from: 'stories', parameters: { temperature: 'hot' } }),
                       (e) => e.status_code === 400 && /temperature/.test(e.message));
  for (const name of [model, 'hf.co/js-org/stories-GGUF', 'stories-terse', 'stories-copy']) await ollama.delete({ model: name });
  assert.deepEqual((await ollama.list()).models.map((m) => m.name), ['stories:latest']);
});

// The length of v as a vector (embeddings come normalized).
const norm = (v) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

test('ollama: embed and the legacy embeddings', async () => {
  const ollama = new Ollama({ host: base });
  const one = await ollama.embed({ model: 'stories', input: 'Once upon a time' });
  assert.equal(one.model, 'stories:latest');
  assert.equal(one.embeddings.length, 1);
  assert.equal(one.embeddings[0].length, 64);  // stories260K's embedding length
  assert.ok(Math.abs(norm(one.embeddings[0]) - 1) < 1e-5);
  assert.equal(one.prompt_eval_count, 5);  // BOS and 4 tokens
  const two = await ollama.embed({ model: 'stories', input: ['Once upon a time', 'The cat sat on the mat.'] });
  assert.equal(two.embeddings.length, 2);
  assert.deepEqual(two.embeddings[0], one.embeddings[0]);
  assert.notDeepEqual(two.embeddings[1], two.embeddings[0]);
  const legacy = await ollama.embeddings({ model: 'stories', prompt: 'Once upon a time' });
  assert.deepEqual(legacy.embedding, one.embeddings[0]);
  await assert.rejects(ollama.embed({ model: 'nope', input: 'x' }), (e) => e.status_code === 404);
  await assert.rejects(ollama.embed({ model: 'stories', input: '' }), (e) => e.status_code === 400);
  await assert.rejects(ollama.embed({ model: 'stories', input: [1, 2] }), (e) => e.status_code === 400);
});

test('openai: embeddings.create, base64 (the client default) and float, text and token ids', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: base });
  const want = (await ollama.embed({ model: 'stories', input: 'Once upon a time' })).embeddings[0];
  // Without encoding_format the client asks for base64 and decodes the float32 bytes itself.
  const b64 = await openai.embeddings.create({ model: 'stories', input: 'Once upon a time' });
  assert.equal(b64.object, 'list');
  assert.equal(b64.model, 'stories:latest');
  assert.equal(b64.data.length, 1);
  assert.equal(b64.data[0].object, 'embedding');
  assert.equal(b64.data[0].index, 0);
  assert.deepEqual(Array.from(b64.data[0].embedding), want.map(Math.fround));
  assert.deepEqual(b64.usage, { prompt_tokens: 5, total_tokens: 5 });
  const f = await openai.embeddings.create({ model: 'stories', input: ['Once upon a time', 'The cat'],
                                            encoding_format: 'float' });
  assert.equal(f.data.length, 2);
  assert.deepEqual(f.data[0].embedding, want);
  assert.equal(f.data[1].index, 1);
  // stories260K's tokens of "Once upon a time", with BOS (`minnow tokenize`): the same embedding.
  const ids = await openai.embeddings.create({ model: 'stories', input: [1, 403, 407, 261, 378],
                                              encoding_format: 'float' });
  assert.deepEqual(ids.data[0].embedding, want);
  const many = await openai.embeddings.create({ model: 'stories', input: [[1, 403], [1, 403, 407, 261, 378]],
                                               encoding_format: 'float' });
  assert.deepEqual(many.data[1].embedding, want);
  assert.equal(many.usage.prompt_tokens, 7);
  const cut = await openai.embeddings.create({ model: 'stories', input: 'Once upon a time', dimensions: 16,
                                             encoding_format: 'float' });
  assert.equal(cut.data[0].embedding.length, 16);
  await assert.rejects(openai.embeddings.create({ model: 'nope', input: 'x' }),
                       (e) => e.status === 404 && e.error?.code === 'model_not_found');
  await assert.rejects(openai.embeddings.create({ model: 'stories', input: '' }), (e) => e.status === 400);
  await assert.rejects(openai.embeddings.create({ model: 'stories', input: 'x', encoding_format: 'hex' }),
                       (e) => e.status === 400 && /encoding_format/.test(e.message));
});
