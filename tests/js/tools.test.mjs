// Tool calling through `minnow serve` and the official clients. stories260K (whose free output
// is never a call) wears each family's real chat template (../shared/templates; Phi-4-mini's from
// tests/data/templates): with tool_choice "required" or a named function, every answer is calls
// in the family's syntax read back as OpenAI's tool_calls / Ollama's message.tool_calls, whose
// arguments ajv validates against the function's parameters schema; streamed and not. "none"
// gives text; a conversation with tool results renders; models whose template ignores tools,
// bad tools and bad tool_choice values are 400s. Run by CTest (js_tools) with MINNOW_BINARY and
// MINNOW_SHARED_DIR set; exits 77 (skipped) without the npm packages or ../shared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireOrSkip } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.MINNOW_BINARY;
const shared = process.env.MINNOW_SHARED_DIR ?? '';
const stories = path.join(shared, 'models/stories260K.gguf');
const templates = {
  hermes: path.join(shared, 'templates/Qwen-Qwen2.5-0.5B-Instruct.jinja'),
  llama3: path.join(shared, 'templates/meta-llama-Llama-3.2-1B-Instruct.jinja'),
  mistral: path.join(shared, 'templates/mistralai-Mistral-Nemo-Instruct-2407.jinja'),
  phi4: path.join(here, '../data/templates/phi4-mini-tools.jinja'),
};
requireOrSkip(['openai', 'ollama', 'ajv'], [stories, ...Object.values(templates)],
  `${stories} and the chat templates of ${shared}/templates`);
const { default: OpenAI } = await import('openai');
const { Ollama } = await import('ollama');
const { default: Ajv2020 } = await import('ajv/dist/2020.js');
const { startServe } = await import('./serve.mjs');

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 16 }, unit: { enum: ['celsius', 'fahrenheit'] } },
        required: ['city'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'book_table',
      parameters: {
        type: 'object',
        properties: {
          people: { type: 'integer', minimum: 1, maximum: 12 },
          time: { type: 'string', pattern: '^[0-2][0-9]:[0-5][0-9]$' },
          vegetarian: { type: 'boolean' },
        },
        required: ['people', 'time'],
      },
    },
  },
];
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validators = Object.fromEntries(tools.map((t) => [t.function.name, ajv.compile(t.function.parameters)]));
const messages = [{ role: 'user', content: 'What is the weather in Paris? And book a table for two at eight.' }];

let serve, base;

before(async () => {
  const models = { plain: `FROM ${stories}\n` };
  for (const [family, file] of Object.entries(templates)) {
    models[family] = `FROM ${stories}\nTEMPLATE """${fs.readFileSync(file, 'utf8')}"""\n`;
  }
  serve = await startServe(binary, { models, prefix: 'minnow-js-tools-' });
  base = serve.base;
});

after(() => serve?.stop());

// A call's problems ([] when it is a call of an offered function with valid arguments).
function check(name, args, want) {
  const problems = [];
  if (want && name !== want) problems.push(`called ${name}, not ${want}`);
  const validate = validators[name];
  if (!validate) return [...problems, `no tool named ${name}`];
  if (!validate(args)) problems.push(`${name}(${JSON.stringify(args)}): ${ajv.errorsText(validate.errors)}`);
  return problems;
}

const choices = [
  ['required', 'required', null],
  ['get_weather', { type: 'function', function: { name: 'get_weather' } }, 'get_weather'],
  ['book_table', { type: 'function', function: { name: 'book_table' } }, 'book_table'],
];

test('openai: tool_choice required or named gives valid calls in every family, streamed and not', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const failures = [];
  let calls = 0;
  for (const family of Object.keys(templates)) {
    for (const [label, tool_choice, want] of choices) {
      for (let seed = 1; seed <= 3; ++seed) {
        const what = `${family} ${label} seed ${seed}`;
        const request = { model: family, messages, tools, tool_choice, seed, temperature: 1, max_tokens: 160 };
        const r = await openai.chat.completions.create(request);
        const choice = r.choices[0];
        if (choice.finish_reason !== 'tool_calls') failures.push(`${what}: finish_reason ${choice.finish_reason}`);
        const got = choice.message.tool_calls ?? [];
        if (got.length === 0) failures.push(`${what}: no calls (${JSON.stringify(choice.message)})`);
        if (want && got.length !== 1) failures.push(`${what}: ${got.length} calls of a named function`);
        for (const c of got) {
          ++calls;
          // Mistral's templates take ids of 9 letters and digits back; the others get OpenAI's kind.
          const id = family === 'mistral' ? /^[A-Za-z0-9]{9}$/ : /^call_[A-Za-z0-9]{24}$/;
          if (c.type !== 'function' || !id.test(c.id)) failures.push(`${what}: ${JSON.stringify(c)}`);
          failures.push(...check(c.function.name, JSON.parse(c.function.arguments), want).map((p) => `${what}: ${p}`));
        }
        // The same request streamed: the calls arrive as tool_calls deltas, the same calls.
        const stream = await openai.chat.completions.create({ ...request, stream: true });
        const streamed = [];
        let finish = null;
        for await (const chunk of stream) {
          for (const d of chunk.choices[0]?.delta?.tool_calls ?? []) {
            streamed[d.index] ??= { name: '', arguments: '' };
            streamed[d.index].name += d.function?.name ?? '';
            streamed[d.index].arguments += d.function?.arguments ?? '';
          }
          finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        assert.equal(finish, 'tool_calls', what);
        assert.deepEqual(streamed, got.map((c) => ({ name: c.function.name, arguments: c.function.arguments })), what);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(calls >= 36, `${calls} calls`);
});

test('ollama: message.tool_calls with tool_choice, streamed and not', async () => {
  const ollama = new Ollama({ host: base });
  const failures = [];
  for (const family of Object.keys(templates)) {
    for (const [label, tool_choice, want] of choices) {
      const what = `${family} ${label}`;
      const request = { model: family, messages, tools, tool_choice, options: { seed: 7, temperature: 1, num_predict: 160 } };
      const r = await ollama.chat(request);
      const got = r.message.tool_calls ?? [];
      if (got.length === 0) failures.push(`${what}: no calls (${JSON.stringify(r.message)})`);
      for (const c of got) failures.push(...check(c.function.name, c.function.arguments, want).map((p) => `${what}: ${p}`));
      const streamed = [];
      let content = '';
      for await (const part of await ollama.chat({ ...request, stream: true })) {
        streamed.push(...(part.message.tool_calls ?? []));
        content += part.message.content;
      }
      assert.deepEqual(streamed, got, what);
      assert.equal(content, r.message.content, what);
    }
  }
  assert.deepEqual(failures, []);
});

test('tool_choice none answers in text; auto reads calls only where there are calls', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  for (const family of Object.keys(templates)) {
    const none = await openai.chat.completions.create({ model: family, messages, tools, tool_choice: 'none',
                                                        temperature: 0, max_tokens: 20 });
    assert.equal(none.choices[0].message.tool_calls, undefined, family);
    assert.ok(['stop', 'length'].includes(none.choices[0].finish_reason), family);
    assert.ok(none.choices[0].message.content.length > 0, family);
    // stories260K never writes a call of its own: auto leaves its text as content.
    const auto = await openai.chat.completions.create({ model: family, messages, tools, temperature: 0, max_tokens: 20 });
    assert.equal(auto.choices[0].message.tool_calls, undefined, family);
    assert.ok(auto.choices[0].message.content.length > 0, family);
  }
});

test('a conversation with a call and its result renders and continues', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: base });
  for (const family of Object.keys(templates)) {
    const history = [
      ...messages,
      { role: 'assistant', content: '', tool_calls: [{ id: 'abc123def', type: 'function',
          function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'abc123def', content: '{"temperature": 18}' },
    ];
    const r = await openai.chat.completions.create({ model: family, messages: history, tools, max_tokens: 8, temperature: 0 });
    assert.ok(r.usage.prompt_tokens > 0, family);
    const o = await ollama.chat({ model: family, tools, options: { num_predict: 8 }, messages: [
      ...messages,
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '{"temperature": 18}' },
    ] });
    assert.equal(o.done, true, family);
  }
});

test('tools a model cannot take and malformed tool requests are 400s with the reason', async () => {
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: base });
  // /api/show says which models take tools, as Ollama's capabilities do.
  for (const family of Object.keys(templates)) {
    assert.deepEqual((await ollama.show({ model: family })).capabilities, ['completion', 'tools'], family);
  }
  assert.deepEqual((await ollama.show({ model: 'plain' })).capabilities, ['completion']);
  await assert.rejects(openai.chat.completions.create({ model: 'plain', messages, tools }),
                       (e) => e.status === 400 && /does not support tools/.test(e.message));
  await assert.rejects(ollama.chat({ model: 'plain', messages, tools }),
                       (e) => e.status_code === 400 && /does not support tools/.test(e.message));
  const bad = [
    [{ tools: [{ type: 'function', function: { description: 'no name' } }] }, /needs a 'name'/],
    [{ tools: [{ type: 'code_interpreter' }] }, /only tools of type 'function'/],
    [{ tools, tool_choice: 'always' }, /'tool_choice' must be/],
    [{ tools, tool_choice: { type: 'function', function: { name: 'fly' } } }, /'fly', which is not among the tools/],
    [{ tool_choice: 'required' }, /offers none/],
    [{ tools, tool_choice: 'required', response_format: { type: 'json_object' } }, /cannot go with a response format/],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {
        x: { type: 'number', multipleOf: 2 } } } } }], tool_choice: 'required' }, /multipleOf/],
  ];
  for (const [extra, why] of bad) {
    await assert.rejects(openai.chat.completions.create({ model: 'hermes', messages, ...extra }),
                         (e) => e.status === 400 && why.test(e.message), JSON.stringify(extra));
  }
});
