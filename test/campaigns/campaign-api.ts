/** HTTP helpers for campaign tests: identify profiles with the write key, call the admin API. */
import assert from 'node:assert/strict'
import { basicAuth, type TestApp, waitForProcessed } from '../helpers/app.ts'

/** Response bodies; the tests' assertions check their shape. */
// biome-ignore lint/suspicious/noExplicitAny: read by assertions, not by code
export type ApiBody = Record<string, any>

export async function identify(app: TestApp, users: Record<string, Record<string, unknown>>): Promise<void> {
  const res = await fetch(`${app.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(app.workspace.writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({
      batch: Object.entries(users).map(([userId, traits]) => ({ type: 'identify', userId, traits })),
    }),
  })
  assert.equal(res.status, 200, await res.text())
  await waitForProcessed(app)
}

export async function api(
  app: TestApp,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: ApiBody }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${app.workspace.adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as ApiBody }
}
