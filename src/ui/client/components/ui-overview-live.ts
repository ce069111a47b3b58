/**
 * The overview's live data: an EventSource on /ui/api/live (the session cookie goes with it, same
 * origin). A `snapshot` frame replaces the points, a `point` frame appends one; points older than
 * the window are dropped. EventSource reconnects by itself after an error; the snapshot on
 * reconnection makes the charts whole again.
 */
import { useEffect, useState } from 'preact/hooks'
import type { LiveSnapshot } from '../../live-routes.ts'
import type { OverviewPoint } from '../../overview-series.ts'

export type { LiveSnapshot, OverviewPoint }

export interface Live {
  source: LiveSnapshot['source'] | undefined
  intervalMs: number
  windowMs: number
  points: OverviewPoint[]
  /** False while (re)connecting. */
  connected: boolean
}

export const LIVE_URL = '/ui/api/live'

export function useLive(): Live {
  const [live, setLive] = useState<Live>({
    source: undefined,
    intervalMs: 2000,
    windowMs: 900_000,
    points: [],
    connected: false,
  })
  useEffect(() => {
    const es = new EventSource(LIVE_URL)
    es.addEventListener('snapshot', (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as LiveSnapshot
      setLive({ ...s, connected: true })
    })
    es.addEventListener('point', (e) => {
      const p = JSON.parse((e as MessageEvent<string>).data) as OverviewPoint
      setLive((l) => {
        const oldest = p.t - l.windowMs
        return { ...l, connected: true, points: [...l.points.filter((q) => q.t > oldest), p] }
      })
    })
    es.onerror = () => setLive((l) => ({ ...l, connected: false }))
    return () => es.close()
  }, [])
  return live
}
