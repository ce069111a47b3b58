/**
 * Tests that need something outside Node (a browser, a broker) call `requireService`: it returns a
 * skip reason when the thing is absent, and throws instead when INKSTREAM_REQUIRE_SERVICES=1 (CI).
 */
export function missingService(name: string, available: boolean, why: string): string | false {
  if (available) return false
  const reason = `${name} is not available: ${why}`
  if (process.env.INKSTREAM_REQUIRE_SERVICES === '1') {
    throw new Error(`${reason} (INKSTREAM_REQUIRE_SERVICES=1 forbids skipping)`)
  }
  return reason
}
