// tests/sdk/sdk_test.mjs PROXY_PORT PROVIDER_PORT: the official openai and
// @anthropic-ai/sdk packages through `llmcache serve` to tests/fake_provider.py.
// A miss and a hit give the SDK identical results, and the provider's request
// counter proves the hit never reached it. Run by tests/test_serve.py --sdk.
// Last line: "N passed, N failed".
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';

const [px, up] = process.argv.slice(2).map(Number);
let passed = 0, failed = 0;
function check(name, fn) {
  try { fn(); passed++; } catch (e) { failed++; console.log(`FAIL - ${name}: ${e.message}`); }
}
async function upstream() {
  const r = await fetch(`http://127.0.0.1:${up}/stats`);
  return (await r.json()).requests;
}

const openai = new OpenAI({ apiKey: 'test-key', baseURL: `http://127.0.0.1:${px}/v1`, maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: 'test-key', baseURL: `http://127.0.0.1:${px}`, maxRetries: 0 });
const messages = [{ role: 'user', content: 'sdk words through the proxy' }];

{ // OpenAI, non-stream
  const n0 = await upstream();
  const a = await openai.chat.completions.create({ model: 'gpt-test', messages }).withResponse();
  const b = await openai.chat.completions.create({ model: 'gpt-test', messages }).withResponse();
  check('openai miss then hit', () => {
    assert.equal(a.response.headers.get('x-llmcache'), 'MISS');
    assert.equal(b.response.headers.get('x-llmcache'), 'HIT');
  });
  check('openai identical results', () => assert.deepEqual(a.data, b.data));
  check('openai content', () => assert.match(a.data.choices[0].message.content, /^Echo: sdk words/));
  const n1 = await upstream();
  check('openai hit never reached the provider', () => assert.equal(n1 - n0, 1));
}
{ // OpenAI, stream
  const n0 = await upstream();
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const s = await openai.chat.completions.create({ model: 'gpt-test', messages, stream: true,
                                                     stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of s) chunks.push(c);
    runs.push(chunks);
  }
  check('openai stream identical chunks', () => assert.deepEqual(runs[0], runs[1]));
  check('openai stream text', () => assert.match(runs[0].map(c => c.choices[0]?.delta?.content ?? '').join(''), /^Echo: sdk words/));
  const n1 = await upstream();
  check('openai stream one upstream call', () => assert.equal(n1 - n0, 1));
}
{ // Anthropic, non-stream and stream
  const n0 = await upstream();
  const a = await anthropic.messages.create({ model: 'claude-test', max_tokens: 64, messages });
  const b = await anthropic.messages.create({ model: 'claude-test', max_tokens: 64, messages });
  check('anthropic identical results', () => assert.deepEqual(a, b));
  check('anthropic content', () => assert.match(a.content[0].text, /^Echo: sdk words/));
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const s = await anthropic.messages.create({ model: 'claude-test', max_tokens: 64, messages, stream: true });
    const evs = [];
    for await (const e of s) evs.push(e);
    runs.push(evs);
  }
  check('anthropic stream identical events', () => assert.deepEqual(runs[0], runs[1]));
  check('anthropic stream ends with message_stop', () => assert.equal(runs[0].at(-1).type, 'message_stop'));
  const n1 = await upstream();
  check('anthropic hits never reached the provider', () => assert.equal(n1 - n0, 2));
}
{ // errors keep the provider's shape: the SDKs raise their own exceptions
  const limited = new OpenAI({ apiKey: 'test-key', baseURL: `http://127.0.0.1:${px}/v1`, maxRetries: 0,
                               defaultHeaders: { 'X-Fake-Behavior': 'status=429' } });
  let err = null;
  try { await limited.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'limited' }] }); }
  catch (e) { err = e; }
  check('openai 429 is a RateLimitError', () => assert.ok(err instanceof OpenAI.RateLimitError));
  err = null;
  try {
    await anthropic.messages.create({ model: 'claude-test', max_tokens: 8, messages: [] },
                                    { headers: { 'Content-Type': 'text/plain' } });
  } catch (e) { err = e; }
  check('anthropic 4xx from the proxy is an APIError', () => assert.ok(err instanceof Anthropic.APIError && err.status >= 400 && err.status < 500));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
