/**
 * Wall-clock time in a recipient's time zone (IANA names, from the `timezone` trait): when a local
 * date and time happens, and whether an instant falls in quiet hours and until when. Node's Intl
 * knows the zones and their rules (DST included); nothing here keeps a table of its own.
 *
 * A local time that does not exist (the hour skipped when clocks go forward) is taken to mean the
 * same time on the clock's new offset, i.e. just after the gap (02:30 on a spring-forward night in
 * Paris is 03:30 CEST); one that happens twice (clocks go back) is the first of the two.
 */

export interface LocalDateTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    // Bounded: the zones in use are a few hundred at most, but the trait is user data.
    if (formatters.size >= 1000) formatters.clear()
    formatters.set(timeZone, f)
  }
  return f
}

/** Whether `name` is a time zone this runtime knows (an IANA name such as `Europe/Paris`, or `UTC`). */
export function isTimeZone(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 64) return false
  try {
    formatter(name)
    return true
  } catch {
    return false
  }
}

/** The zone of a `timezone` trait when it is a known one, else `fallback`. */
export function zoneOf(trait: unknown, fallback: string): string {
  return isTimeZone(trait) ? trait : fallback
}

/** The wall clock in `timeZone` at `instant` (epoch ms), to the minute. */
export function localParts(instant: number, timeZone: string): LocalDateTime {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(instant))
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
  }
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`, in ms (to the minute). */
function offsetAt(instant: number, timeZone: string): number {
  const l = localParts(instant, timeZone)
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute)
  return asUtc - Math.floor(instant / 60_000) * 60_000
}

/** The instant (epoch ms) when the wall clock in `timeZone` shows `local` (see the file's header for gaps and overlaps). */
export function zonedInstant(local: LocalDateTime, timeZone: string): number {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute)
  // The offsets in force around that wall time: a transition, if any, lies between them.
  const before = offsetAt(asUtc - 14 * 3_600_000, timeZone)
  const after = offsetAt(asUtc + 14 * 3_600_000, timeZone)
  const candidates = [asUtc - before, asUtc - after].filter((t) => offsetAt(t, timeZone) === asUtc - t)
  if (candidates.length > 0) return Math.min(...candidates)
  // A gap: the wall time was skipped; read it on the offset from before the jump.
  return asUtc - before
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/
const CLOCK_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/

/** `YYYY-MM-DDTHH:MM` (no offset: a wall time) as parts; undefined when it is not a real date and time. */
export function parseLocalDateTime(text: string): LocalDateTime | undefined {
  const m = LOCAL_DATE_TIME.exec(text)
  if (!m) return undefined
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number]
  const d = new Date(Date.UTC(year, month - 1, day))
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined
  if (hour > 23 || minute > 59) return undefined
  return { year, month, day, hour, minute }
}

/** `HH:MM` (24 h) as minutes after midnight; undefined when it is not one. */
export function parseClockTime(text: string): number | undefined {
  const m = CLOCK_TIME.exec(text)
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined
}

export interface QuietHours {
  /** `HH:MM`: quiet from this local time… */
  start: string
  /** …until this one (the next day when it is earlier than start: 21:00–08:00 spans midnight). */
  end: string
}

/**
 * When the quiet hours around `instant` end, in `timeZone`; undefined when `instant` is not in
 * them. Equal start and end mean no quiet hours.
 */
export function quietUntil(instant: number, timeZone: string, quiet: QuietHours): number | undefined {
  const start = parseClockTime(quiet.start)
  const end = parseClockTime(quiet.end)
  if (start === undefined || end === undefined || start === end) return undefined
  const local = localParts(instant, timeZone)
  const now = local.hour * 60 + local.minute
  const inQuiet = start < end ? now >= start && now < end : now >= start || now < end
  if (!inQuiet) return undefined
  // The end is today, or tomorrow when the window spans midnight and we are before midnight.
  const dayOffset = start > end && now >= start ? 1 : 0
  const day = new Date(Date.UTC(local.year, local.month - 1, local.day + dayOffset))
  const until = zonedInstant(
    {
      year: day.getUTCFullYear(),
      month: day.getUTCMonth() + 1,
      day: day.getUTCDate(),
      hour: Math.floor(end / 60),
      minute: end % 60,
    },
    timeZone,
  )
  // Never earlier than asked (a DST jump cannot send a held message back in time).
  return Math.max(until, instant)
}
