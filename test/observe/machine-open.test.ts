import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isMachineOpen } from '../../src/observe/machine-open.ts'

describe('isMachineOpen', () => {
  it('calls image proxies, Apple MPP and scanners machines', () => {
    for (const ua of [
      'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html',
      'Mozilla/5.0',
      '',
      'python-requests/2.31.0',
      'curl/8.5.0',
      'Mozilla/5.0 (compatible; Barracuda Sentinel)',
      'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0) Chrome/116.0 Safari/537.36',
    ])
      assert.equal(isMachineOpen(ua), true, ua)
  })

  it('calls mail clients and browsers people', () => {
    for (const ua of [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      'Microsoft Outlook 16.0.17029; Pro',
      'Thunderbird/115.5.0',
    ])
      assert.equal(isMachineOpen(ua), false, ua)
    assert.equal(isMachineOpen(undefined), false, 'no User-Agent known: not called a machine')
  })
})
