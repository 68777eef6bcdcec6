import { describe, expect, it } from 'vitest';
import type { Attributes } from '../../core/record.ts';
import { endpointOf, templatePath } from './endpoint.ts';

describe('templatePath', () => {
  it.each([
    { name: 'a route stays', path: '/v1/chat/completions', want: '/v1/chat/completions' },
    { name: 'root', path: '/', want: '/' },
    { name: 'empty', path: '', want: '' },
    { name: 'numeric id', path: '/users/42/orders/7', want: '/users/:id/orders/:id' },
    { name: 'uuid', path: '/items/0f8fad5b-d9cb-469f-a165-70867728950e', want: '/items/:id' },
    { name: 'upper-case uuid', path: '/items/0F8FAD5B-D9CB-469F-A165-70867728950E/x', want: '/items/:id/x' },
    { name: 'hex id (ObjectId)', path: '/docs/507f1f77bcf86cd799439011', want: '/docs/:id' },
    { name: 'sha-like hex', path: '/blobs/9f86d081884c7d65', want: '/blobs/:id' },
    { name: 'ULID', path: '/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV', want: '/runs/:id' },
    { name: 'OpenAI file id', path: '/v1/files/file-BK7bzQj3FfZFXr7DbL6xJwfo/content', want: '/v1/files/:id/content' },
    { name: 'OpenAI thread and run ids', path: '/v1/threads/thread_abc123def456/runs/run_9x8y7z6w5v', want: '/v1/threads/:id/runs/:id' },
    { name: 'e-mail', path: '/users/bob@example.com/keys', want: '/users/:id/keys' },
    { name: 'percent-encoded e-mail', path: '/users/bob%40example.com', want: '/users/:id' },
    { name: 'very long segment', path: `/t/${'a'.repeat(65)}`, want: '/t/:id' },
    { name: 'query string cut', path: '/search?q=secret&user=42', want: '/search' },
    { name: 'fragment cut', path: '/a/12#frag', want: '/a/:id' },
    { name: 'query with ids cut before templating', path: '/v1/models?after=123', want: '/v1/models' },
    { name: 'model names stay', path: '/openai/deployments/gpt-4o-mini/chat/completions', want: '/openai/deployments/gpt-4o-mini/chat/completions' },
    { name: 'dated model stays', path: '/v1/models/claude-3-5-sonnet-20241022', want: '/v1/models/claude-3-5-sonnet-20241022' },
    { name: 'gemini method stays', path: '/v1beta/models/gemini-1.5-pro:generateContent', want: '/v1beta/models/gemini-1.5-pro:generateContent' },
    { name: 'hex word without digits stays', path: '/cafe/deadbeef', want: '/cafe/deadbeef' },
    { name: 'template stays', path: '/users/{id}/orders/:orderId', want: '/users/{id}/orders/:orderId' },
    { name: 'trailing slash kept', path: '/users/42/', want: '/users/:id/' },
  ])('$name: $path -> $want', ({ path, want }) => {
    expect(templatePath(path)).toBe(want);
  });
});

describe('endpointOf', () => {
  it.each<{ name: string; attrs: Attributes; want: string }>([
    { name: 'http.route first', attrs: { 'http.route': '/users/:id', 'url.path': '/users/42' }, want: '/users/:id' },
    { name: 'raw path in http.route is templated too', attrs: { 'http.route': '/users/42?x=1' }, want: '/users/:id' },
    { name: 'empty route falls back to url.path', attrs: { 'http.route': '', 'url.path': '/users/42' }, want: '/users/:id' },
    { name: 'url.full path, no host, no query', attrs: { 'url.full': 'https://u:p@api.example.com/v1/files/123?key=s' }, want: '/v1/files/:id' },
    { name: 'url.full without path', attrs: { 'url.full': 'https://api.example.com?x=1' }, want: '/' },
    { name: 'nothing', attrs: {}, want: '' },
  ])('$name', ({ attrs, want }) => {
    expect(endpointOf(attrs)).toBe(want);
  });
});
