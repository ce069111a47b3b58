/**
 * inkstream.js, served as-is at GET /sdk.js: <script src="https://HOST/sdk.js" data-write-key="wk_...">
 * or inkstream.load(key, { host }), then inkstream.identify(userId, traits), .track(event, props),
 * .page(name, props) and .reset() on log out. Events persist in localStorage and go to HOST/v1/batch
 * as text/plain (no CORS preflight) 20 at a time or after 1 s; failures retry with backoff, and on
 * page hide the queue leaves by sendBeacon. At least once: the pipeline drops repeated messageIds.
 */
;(() => {
  const VERSION = '0.1.0'
  const BATCH = 20
  const WAIT = 1000
  const MAX_CHARS = 6e4 // per request, under the 64 KB that sendBeacon and keepalive allow
  const MAX_QUEUE = 500
  const MAX_ATTEMPTS = 10 // per batch
  const MAX_BACKOFF = 3e4
  const AID = 'ink_anonymous_id'
  const UID = 'ink_user_id'
  const QUEUE = 'ink_queue'
  const w = window
  const d = document
  const nav = navigator
  if (w.inkstream && !(w.inkstream instanceof Node)) return // included twice (id="inkstream" is a Node)

  const warn = (msg) => console.warn(`inkstream: ${msg}`)

  // Blocked storage throws on access: ids fall back to a cookie, the queue to memory.
  const read = (k) => {
    try {
      const v = localStorage.getItem(k)
      if (v !== null) return v
    } catch (_) {}
    try {
      return decodeURIComponent(d.cookie.match(new RegExp(`(?:^|; )${k}=([^;]*)`))[1])
    } catch (_) {
      return null
    }
  }

  // The cookie is written only when localStorage fails; a removal clears both.
  const write = (k, v, cookie) => {
    let stored = false
    try {
      if (v === null) localStorage.removeItem(k)
      else localStorage.setItem(k, v)
      stored = v !== null
    } catch (_) {}
    if (cookie && !stored) {
      try {
        // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is async and not in Safari
        d.cookie = `${k}=${encodeURIComponent(v || '')};path=/;max-age=${v === null ? 0 : 31536e3};samesite=lax`
      } catch (_) {}
    }
  }

  const uuid = () => {
    const c = w.crypto
    if (c.randomUUID) return c.randomUUID() // secure contexts only
    return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (x) =>
      (x ^ (c.getRandomValues(new Uint8Array(1))[0] & (15 >> (x / 4)))).toString(16),
    )
  }

  let aid = read(AID)
  if (!aid) {
    aid = uuid()
    write(AID, aid, true)
  }
  let uid = read(UID)
  let queue = []
  try {
    const saved = JSON.parse(read(QUEUE))
    if (Array.isArray(saved)) queue = saved
  } catch (_) {}
  let key = ''
  let url = ''
  let timer = 0
  let attempts = 0
  let sending = null // the batch in flight

  const me = d.currentScript
  const src = me ? me.src : '' // '' when inlined
  const origin = src ? new URL(src).origin : location.origin
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone

  const save = () => write(QUEUE, JSON.stringify(queue))
  const drop = (batch) => {
    queue = queue.filter((e) => !batch.includes(e))
    save()
  }
  const schedule = (ms) => {
    if (!timer) timer = setTimeout(flush, ms)
  }
  const backoff = () => Math.min(MAX_BACKOFF, 500 * 2 ** attempts) * (0.5 + Math.random() / 2)

  // The head of `list`: at most BATCH events and MAX_CHARS of JSON, but always one.
  const take = (list) => {
    const out = []
    let size = 0
    for (const e of list) {
      size += JSON.stringify(e).length
      if (out.length === BATCH || (out.length && size > MAX_CHARS)) break
      out.push(e)
    }
    return out
  }
  const body = (batch) => JSON.stringify({ batch, writeKey: key, sentAt: new Date().toISOString() })

  function flush() {
    clearTimeout(timer)
    timer = 0
    if (sending || !key || !queue.length) return
    const batch = take(queue)
    const payload = body(batch)
    sending = batch
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: payload,
      keepalive: payload.length < 2e4, // outlives the page; 2e4 chars < 64 KB in any UTF-8
    })
      .then(
        (res) => res.status,
        () => 0,
      )
      .then((status) => {
        sending = null
        const retry = !status || status === 429 || status >= 500
        if (retry && ++attempts < MAX_ATTEMPTS) {
          timer = setTimeout(flush, backoff())
          return
        }
        if (retry || status >= 400) warn(`dropped ${batch.length} events (${status || 'network error'})`)
        attempts = 0
        drop(batch)
        if (queue.length) schedule(queue.length < BATCH ? WAIT : 0)
      })
  }

  // On hide, send what is not in flight. Beaconed events are forgotten unless the collector is
  // failing right now, in which case they stay queued for the next retry or page view.
  const beacon = () => {
    try {
      const busy = sending || []
      let rest = queue.filter((e) => !busy.includes(e))
      while (key && nav.sendBeacon && rest.length) {
        const batch = take(rest)
        if (!nav.sendBeacon(url, body(batch))) return
        rest = rest.slice(batch.length)
        if (!attempts) drop(batch)
      }
    } catch (_) {}
  }

  const page = () => ({
    url: location.href,
    path: location.pathname,
    search: location.search,
    referrer: d.referrer,
    title: d.title,
  })

  const enqueue = (type, fields) => {
    let e = Object.assign(
      { type, messageId: uuid(), timestamp: new Date().toISOString(), anonymousId: aid },
      fields,
    )
    if (uid !== null) e.userId = uid
    e.context = {
      library: { name: 'inkstream.js', version: VERSION },
      page: page(),
      userAgent: nav.userAgent,
      timezone,
    }
    try {
      e = JSON.parse(JSON.stringify(e)) // a snapshot, immune to later changes by the caller
    } catch (err) {
      return warn(`${type} not sent: ${err}`)
    }
    queue.push(e)
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE)
    save()
    if (queue.length >= BATCH && !attempts) flush()
    else schedule(WAIT)
  }

  const api = {
    load(writeKey, opts = {}) {
      key = writeKey
      url = `${(opts.host || origin).replace(/\/+$/, '')}/v1/batch`
      flush()
    },
    identify(userId, traits) {
      if (typeof userId === 'object' && userId !== null) return api.identify(null, userId)
      if (userId !== null && userId !== undefined) {
        uid = String(userId)
        write(UID, uid, true)
      }
      enqueue('identify', { traits })
    },
    track(event, properties) {
      enqueue('track', { event, properties })
    },
    page(name, properties) {
      if (typeof name === 'object' && name !== null) return api.page(undefined, name)
      enqueue('page', { name, properties: Object.assign({ name }, page(), properties) })
    },
    reset() {
      uid = null
      aid = uuid()
      write(UID, uid, true)
      write(AID, aid, true)
    },
  }
  w.inkstream = api
  d.addEventListener('visibilitychange', () => {
    if (d.visibilityState === 'hidden') beacon()
  })
  w.addEventListener('pagehide', beacon)
  const data = me ? me.dataset : {}
  if (data.writeKey) api.load(data.writeKey, { host: data.host })
})()
