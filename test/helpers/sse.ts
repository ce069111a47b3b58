/** Test helper: reads a Server-Sent Events response frame by frame (event name + parsed JSON data). */

export interface SseFrame {
  event: string
  data: unknown
}

export interface SseReader {
  /** Resolves with the next frame; rejects after `timeoutMs` or when the stream ends first. */
  next(timeoutMs?: number): Promise<SseFrame>
  /** Resolves once the server ended the stream (frames left unread are dropped). */
  ended: Promise<void>
  abort(): void
}

/** GETs `url` with `Accept: text/event-stream` and the headers given; throws unless it answers 200. */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`)
  const body = res.body
  if (!body) throw new Error('no body')
  const frames: SseFrame[] = []
  const waiting: (() => void)[] = []
  let done = false
  let buffer = ''
  const wake = () => {
    for (const w of waiting.splice(0)) w()
  }
  const decoder = new TextDecoder()
  const ended = (async () => {
    try {
      const reader = body.getReader()
      for (;;) {
        const { done: over, value: chunk } = await reader.read()
        if (over) break
        buffer += decoder.decode(chunk, { stream: true })
        let cut = buffer.indexOf('\n\n')
        while (cut >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          cut = buffer.indexOf('\n\n')
          let event = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data !== '') frames.push({ event, data: JSON.parse(data) })
        }
        wake()
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err
    } finally {
      done = true
      wake()
    }
  })()
  return {
    ended,
    abort: () => abort.abort(),
    async next(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (frames.length === 0) {
        if (done) throw new Error('the stream ended')
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`)
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left)
          waiting.push(() => {
            clearTimeout(timer)
            r()
          })
        })
      }
      return frames.shift() as SseFrame
    },
  }
}
