/**
 * RFC 6531: a message whose envelope holds a non-ASCII address may only go to a server that
 * announced SMTPUTF8. nodemailer adds the SMTPUTF8 parameter when the server offers it, but when it
 * does not, nodemailer sends the UTF-8 address anyway; the server may then store a message whose
 * headers it cannot read. This guard makes nodemailer refuse such a send before MAIL FROM instead.
 *
 * nodemailer has no option for it, and its pool hides the connection, so the guard wraps
 * SMTPConnection's envelope step once, for envelopes that carry our flag only (nodemailer copies
 * extra envelope keys through to the connection). It reads the extensions the connection parsed
 * from the EHLO reply (`_supportedExtensions`, nodemailer 10); if that field ever disappears, every
 * flagged send is refused, never sent unguarded. A flagged send to a server that has SMTPUTF8 gets the
 * keyword even when the envelope is ASCII (a UTF-8 Reply-To header needs it too). test/delivery/transport-smtputf8.test.ts covers it.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection'

/** Envelope key: this message needs SMTPUTF8 (an address outside ASCII). */
export const NEEDS_SMTPUTF8 = 'inkstreamNeedsSmtpUtf8'
/** Set on the error of a send refused because the server does not announce SMTPUTF8. */
export const SMTPUTF8_UNSUPPORTED = 'inkstreamSmtpUtf8Unsupported'

const INSTALLED = Symbol.for('inkstream.smtputf8-guard')

type EnvelopeStep = (this: unknown, envelope: unknown, callback: (err: Error | null) => void) => void

/** Installs the guard (idempotent). */
export function installSmtpUtf8Guard(): void {
  const proto: object = SMTPConnection.prototype
  if (Reflect.get(proto, INSTALLED) === true) return
  const original: unknown = Reflect.get(proto, '_setEnvelope')
  if (typeof original !== 'function') throw new Error('nodemailer SMTPConnection has no _setEnvelope')
  const step = original as EnvelopeStep
  const guarded: EnvelopeStep = function (this: unknown, envelope, callback) {
    const flagged = typeof envelope === 'object' && envelope !== null && Reflect.get(envelope, NEEDS_SMTPUTF8)
    if (flagged === true) {
      const extensions: unknown =
        typeof this === 'object' && this !== null ? Reflect.get(this, '_supportedExtensions') : undefined
      if (!(Array.isArray(extensions) && extensions.includes('SMTPUTF8'))) {
        const err = Object.assign(
          new Error(
            '5.6.7 the mail server does not announce SMTPUTF8 (RFC 6531), so a non-ASCII address cannot be sent to it',
          ),
          { code: 'EENVELOPE', command: 'MAIL FROM', [SMTPUTF8_UNSUPPORTED]: true },
        )
        return callback(err)
      }
      if (typeof this === 'object' && this !== null)
        return withSmtpUtf8Keyword(this, () => step.call(this, envelope, callback))
    }
    return step.call(this, envelope, callback)
  }
  Reflect.set(proto, '_setEnvelope', guarded)
  Reflect.set(proto, INSTALLED, true)
}

type SendCommand = (this: unknown, command: string, ...rest: unknown[]) => unknown

/**
 * nodemailer adds the SMTPUTF8 keyword to MAIL FROM only when an envelope address is non-ASCII, but a
 * flagged message may need it for a header alone (a UTF-8 Reply-To, RFC 6532). MAIL FROM is written
 * synchronously inside the envelope step, so the connection's command writer is wrapped for that call.
 */
function withSmtpUtf8Keyword(connection: object, run: () => void): void {
  const send: unknown = Reflect.get(connection, '_sendCommand')
  if (typeof send !== 'function') {
    run()
    return
  }
  const own = Object.getOwnPropertyDescriptor(connection, '_sendCommand')
  const original = send as SendCommand
  const wrapped: SendCommand = function (this: unknown, command, ...rest) {
    const keyword = /^MAIL FROM:/i.test(command) && !/ SMTPUTF8\b/i.test(command)
    return original.call(this, keyword ? `${command} SMTPUTF8` : command, ...rest)
  }
  Reflect.set(connection, '_sendCommand', wrapped)
  try {
    run()
  } finally {
    if (own) Object.defineProperty(connection, '_sendCommand', own)
    else Reflect.deleteProperty(connection, '_sendCommand')
  }
}
