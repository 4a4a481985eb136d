// Routers through `minnow serve` and the official clients. The local model is stories260K; the
// upstream is a test double on 127.0.0.1 standing in for a cloud LLM (it answers "UPSTREAM: " and
// the last user message, and records what it was sent). The cascade's threshold is set between
// the mean token log-probabilities the local model's answers get when asked directly, so the test
// knows which requests must escalate: exactly those below it. Also: the privacy rule and
// local_only keep requests local (the upstream never sees them), an upstream that is down or too
// slow gives flagged local answers, the rules and classifier policies, /v1/models listing routers,
// and /metrics counting all of it. Run by
// CTest (js_router) with MINNOW_BINARY and MINNOW_SHARED_DIR set; exits 77 (skipped) without the
// npm packages or ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { requireOrSkip } from './serve.mjs';

const binary = process.env.MINNOW_BINARY;
const shared = process.env.MINNOW_SHARED_DIR ?? '';
const stories = path.join(shared, 'models/stories260K.gguf');
requireOrSkip(['openai', 'ollama'], [stories], stories);
const { default: OpenAI } = await import('openai');
const { Ollama } = await import('ollama');
const { startServe } = await import('./serve.mjs');

const prompts = [
  'Once upon a time',
  'The little dog',
  'Lily and Ben went to the park.',
  'Tom had a red ball',
  'One day, a bird',
  'The sun was hot and',
];
const ssn = 'My number is 123-45-6789. Once upon a time';
const ask = (content) => ({ messages: [{ role: 'user', content }], temperature: 0, max_tokens: 10 });

// The upstream double: /v1 answers at once, /slow/v1 after 3 s.
const received = [];
const upstream = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const r = JSON.parse(body);
    received.push(r);
    const last = r.messages[r.messages.length - 1].content;
    const answer = JSON.stringify({
      id: 'up-1', object: 'chat.completion', created: 1, model: r.model,
      choices: [{ index: 0, message: { role: 'assistant', content: `UPSTREAM: ${last}` }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
    });
    const send = () => res.writeHead(200, { 'Content-Type': 'application/json' }).end(answer);
    // /odd/v1: a chat completion with fields of unexpected types; /junk/v1: not one at all.
    const odd = JSON.stringify({ id: 7, created: 'today', choices: [{ message: { content: `ODD: ${last}`,
      tool_calls: 'none' }, finish_reason: 5, logprobs: 'x' }, 'not a choice'], usage: { prompt_tokens: 'many' } });
    if (req.url.startsWith('/odd/')) res.writeHead(200, { 'Content-Type': 'application/json' }).end(odd);
    else if (req.url.startsWith('/junk/')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('[1, 2]');
    else if (req.url.startsWith('/slow/')) setTimeout(send, 3000);
    else send();
  });
});
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upPort = upstream.address().port;
// A port with nothing listening: bound, then closed.
const deadPort = await new Promise((resolve) => {
  const s = http.createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

const models = { stories: `FROM ${stories}\n` };
let direct = [];  // the local model's own answers to prompts: content and mean logprob
let threshold = 0;
let srv;
let openai;
let ollama;

before(async () => {
  // First the local model alone, for its answers' confidences.
  const plain = await startServe(binary, { models, prefix: 'minnow-js-router-' });
  try {
    const c = new OpenAI({ baseURL: `${plain.base}/v1`, apiKey: 'unused' });
    for (const p of prompts) {
      const r = await c.chat.completions.create({ model: 'stories', ...ask(p), logprobs: true });
      const lp = r.choices[0].logprobs.content.map((t) => t.logprob);
      direct.push({ prompt: p, content: r.choices[0].message.content, mean: lp.reduce((a, b) => a + b, 0) / lp.length });
    }
  } finally {
    plain.stop();
  }
  const means = direct.map((d) => d.mean).sort((a, b) => a - b);
  threshold = (means[2] + means[3]) / 2;
  assert.ok(means[2] < means[3], 'the prompts must give distinct confidences');

  srv = await startServe(binary, {
    models,
    prefix: 'minnow-js-router-',
    prepare: (store, env) => {
      const up = (name, url, extra = {}) => ({ name, base_url: url, model: 'big-model', input_price: 2, output_price: 8, ...extra });
      fs.writeFileSync(path.join(store, 'upstreams.json'), JSON.stringify({ upstreams: [
        up('cloud', `http://127.0.0.1:${upPort}/v1`),
        up('dead', `http://127.0.0.1:${deadPort}/v1`, { timeout_s: 2 }),
        up('slow', `http://127.0.0.1:${upPort}/slow/v1`, { timeout_s: 0.5 }),
        up('odd', `http://127.0.0.1:${upPort}/odd/v1`),
        up('junk', `http://127.0.0.1:${upPort}/junk/v1`),
      ] }));
      const routers = path.join(store, 'routers');
      fs.mkdirSync(routers);
      const privacy = { local_patterns: ['\\b\\d{3}-\\d{2}-\\d{4}\\b'] };
      const def = (name, extra) => fs.writeFileSync(path.join(routers, `${name}.json`),
        JSON.stringify({ name, local: 'stories', upstream: 'cloud', privacy, ...extra }));
      def('cascade', { policy: 'cascade', threshold });
      def('always', { policy: 'cascade', threshold: 0 });  // every answer is below 0: all escalate
      def('down', { policy: 'cascade', threshold: 0, upstream: 'dead' });
      def('slow', { policy: 'cascade', threshold: 0, upstream: 'slow' });
      def('odd', { policy: 'cascade', threshold: 0, upstream: 'odd' });
      def('junk', { policy: 'cascade', threshold: 0, upstream: 'junk' });
      def('rules', { policy: 'rules', rules: { max_prompt_chars: 60, escalate_patterns: ['(?i)\\blawyer\\b'] } });
      // An instruction under which stories260K labels these prompts both ways (greedy, so always
      // the same way): the test sees both the local and the escalated path.
      def('classify', { policy: 'classifier', classifier: { instruction: 'Say easy.' } });
      env.MINNOW_UPSTREAMS = path.join(store, 'upstreams.json');
      env.MINNOW_ROUTERS = routers;
    },
  });
  openai = new OpenAI({ baseURL: `${srv.base}/v1`, apiKey: 'unused' });
  ollama = new Ollama({ host: srv.base });
});

after(() => {
  srv?.stop();
  upstream.close();
});

const counts = { local: 0, escalated: 0, held: 0, errors: 0, unpriced: 0 };  // unpriced: escalations without usage

test('the cascade escalates exactly the answers below its threshold (openai client)', async () => {
  for (const d of direct) {
    const { data, response } = await openai.chat.completions.create({ model: 'cascade', ...ask(d.prompt) }).withResponse();
    const escalate = d.mean < threshold;
    assert.equal(data.model, 'cascade');
    assert.equal(data.minnow.answered_by, escalate ? 'upstream' : 'local', d.prompt);
    assert.ok(Math.abs(data.minnow.confidence - d.mean) < 1e-6, 'the router sees the confidence the model gives');
    if (escalate) {
      assert.equal(data.choices[0].message.content, `UPSTREAM: ${d.prompt}`);
      assert.equal(response.headers.get('x-minnow-answered-by'), 'upstream:cloud');
      assert.ok(data.minnow.cost_usd > 0);
      counts.escalated++;
    } else {
      assert.equal(data.choices[0].message.content, d.content);
      assert.equal(response.headers.get('x-minnow-answered-by'), 'local:stories');
      assert.equal(data.choices[0].logprobs, null, 'logprobs the client did not ask for are not returned');
      counts.local++;
    }
  }
  assert.equal(received.filter((r) => r.model === 'big-model').length, counts.escalated);
  assert.ok(received.every((r) => r.local_only === undefined && r.stream === undefined));
});

test('streamed through the openai client, and through the ollama client', async () => {
  const low = direct.find((d) => d.mean < threshold);
  const high = direct.find((d) => d.mean >= threshold);
  for (const d of [low, high]) {
    const want = d === low ? `UPSTREAM: ${d.prompt}` : d.content;
    let text = '';
    for await (const ch of await openai.chat.completions.create({ model: 'cascade', ...ask(d.prompt), stream: true }))
      text += ch.choices[0]?.delta?.content ?? '';
    assert.equal(text, want);
    const r = await ollama.chat({ model: 'cascade', messages: ask(d.prompt).messages, options: { temperature: 0, num_predict: 10 } });
    assert.equal(r.message.content, want);
    assert.equal(r.minnow.answered_by, d === low ? 'upstream' : 'local');
    let streamed = '';
    for await (const part of await ollama.chat({ model: 'cascade', messages: ask(d.prompt).messages, stream: true,
      options: { temperature: 0, num_predict: 10 } }))
      streamed += part.message.content;
    assert.equal(streamed, want);
    if (d === low) counts.escalated += 3;
    else counts.local += 3;
  }
});

test('privacy: a matching prompt or local_only stays local even when it would escalate', async () => {
  const before = received.length;
  const r = await openai.chat.completions.create({ model: 'always', ...ask(ssn) });
  assert.equal(r.minnow.answered_by, 'local');
  assert.match(r.minnow.privacy_hold, /privacy pattern/);
  const low = direct.find((d) => d.mean < threshold);
  const { data, response } = await openai.chat.completions
    .create({ model: 'cascade', ...ask(low.prompt) }, { headers: { 'X-Minnow-Local-Only': 'true' } })
    .withResponse();
  assert.equal(data.minnow.answered_by, 'local');
  assert.equal(data.choices[0].message.content, low.content);
  assert.equal(response.headers.get('x-minnow-answered-by'), 'local:stories');
  const o = await ollama.chat({ model: 'always', messages: ask(low.prompt).messages, local_only: true, options: { num_predict: 4 } });
  assert.equal(o.minnow.answered_by, 'local');
  assert.equal(received.length, before, 'the upstream saw none of them');
  assert.ok(!received.some((x) => JSON.stringify(x).includes('123-45-6789')));
  counts.local += 3;
  counts.held += 3;
});

test('an upstream that is down or too slow: the local answer, flagged', async () => {
  for (const model of ['down', 'slow']) {
    const d = direct[0];
    const { data, response } = await openai.chat.completions.create({ model, ...ask(d.prompt) }).withResponse();
    assert.equal(data.minnow.answered_by, 'local');
    assert.equal(data.minnow.fallback, true);
    assert.match(data.minnow.upstream_error, model === 'down' ? /cannot connect/ : /within 0.5 s/);
    assert.equal(response.headers.get('x-minnow-fallback'), 'upstream-error');
    assert.equal(data.choices[0].message.content, d.content);
    counts.local++;
    counts.errors++;
  }
});

test('an upstream answering in odd shapes: what can be read is used, the rest dropped; junk falls back', async () => {
  const d = direct[0];
  const r = await openai.chat.completions.create({ model: 'odd', ...ask(d.prompt) });
  assert.equal(r.minnow.answered_by, 'upstream');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.content, `ODD: ${d.prompt}`);
  assert.equal(r.choices[0].message.tool_calls, undefined);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(typeof r.id, 'string');
  assert.equal(typeof r.created, 'number');
  let text = '';
  for await (const ch of await openai.chat.completions.create({ model: 'odd', ...ask(d.prompt), stream: true,
    stream_options: { include_usage: true } }))
    text += ch.choices[0]?.delta?.content ?? '';
  assert.equal(text, `ODD: ${d.prompt}`);
  const o = await ollama.chat({ model: 'odd', messages: ask(d.prompt).messages, options: { num_predict: 10 } });
  assert.equal(o.message.content, `ODD: ${d.prompt}`);
  assert.equal(o.prompt_eval_count, 0);
  counts.escalated += 3;
  counts.unpriced += 3;
  const { data, response } = await openai.chat.completions.create({ model: 'junk', ...ask(d.prompt), temperature: 0 })
    .withResponse();
  assert.equal(data.minnow.answered_by, 'local');
  assert.match(data.minnow.upstream_error, /not a chat completion/);
  assert.equal(response.headers.get('x-minnow-fallback'), 'upstream-error');
  counts.local++;
  counts.errors++;
});

test('rules: a long prompt or a matching pattern escalates, others stay local', async () => {
  const cases = [
    ['Once upon a time', 'local'],
    ['I need a lawyer for this', 'upstream'],
    ['Once upon a time there was a little girl who lived in a small house near the woods', 'upstream'],
  ];
  for (const [p, who] of cases) {
    const r = await openai.chat.completions.create({ model: 'rules', ...ask(p) });
    assert.equal(r.minnow.answered_by, who, p);
    if (who === 'upstream') counts.escalated++;
    else counts.local++;
  }
});

test('classifier: the local model labels each request, and "hard" ones escalate', async () => {
  const labels = new Set();
  for (const d of direct) {
    const r = await openai.chat.completions.create({ model: 'classify', ...ask(d.prompt) });
    const label = r.minnow.classifier_label;
    assert.ok(label === 'easy' || label === 'hard', `label ${label}`);
    labels.add(label);
    assert.equal(r.minnow.answered_by, label === 'hard' ? 'upstream' : 'local', d.prompt);
    assert.equal(r.choices[0].message.content, label === 'hard' ? `UPSTREAM: ${d.prompt}` : d.content);
    if (label === 'hard') counts.escalated++;
    else counts.local++;
    // The same request labels the same way (greedy decoding under the enum schema).
    const again = await openai.chat.completions.create({ model: 'classify', ...ask(d.prompt) });
    assert.equal(again.minnow.classifier_label, label);
    if (label === 'hard') counts.escalated++;
    else counts.local++;
  }
  assert.equal(labels.size, 2, 'both labels occur on these prompts');
});

test('/metrics counts local and escalated answers, privacy holds and upstream errors', async () => {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const metric = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))[1]);
  assert.equal(metric('minnow_router_local_total'), counts.local);
  assert.equal(metric('minnow_router_escalated_total'), counts.escalated);
  assert.equal(metric('minnow_router_held_local_total'), counts.held);
  assert.equal(metric('minnow_router_upstream_errors_total'), counts.errors);
  assert.equal(metric('minnow_router_fallbacks_total'), counts.errors);
  // 20 prompt + 5 completion tokens at 2 and 8 USD per million per escalation that reports usage.
  assert.ok(Math.abs(metric('minnow_router_upstream_cost_usd') - (counts.escalated - counts.unpriced) * 80e-6) < 1e-9);
  assert.ok(metric('minnow_router_cost_saved_usd') > 0);
});

test('routers are listed among the models', async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  assert.ok(ids.includes('stories:latest'), ids.join(' '));
  for (const name of ['cascade', 'always', 'down', 'slow', 'odd', 'junk', 'rules', 'classify']) assert.ok(ids.includes(name), name);
  const one = await openai.models.retrieve('cascade');
  assert.equal(one.owned_by, 'router');
});

test('a router answers chat requests only; unknown upstreams are refused at start', async () => {
  const r = await fetch(`${srv.base}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'cascade', prompt: 'x' }) });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /is a router/);
  await assert.rejects(
    startServe(binary, {
      prefix: 'minnow-js-router-',
      prepare: (store, env) => {
        fs.writeFileSync(path.join(store, 'r.json'), JSON.stringify({ name: 'x', local: 'stories', upstream: 'nowhere' }));
        env.MINNOW_ROUTERS = store;
        env.MINNOW_UPSTREAMS = path.join(store, 'none.json');
      },
    }),
    /cannot read|not defined/,
  );
});
