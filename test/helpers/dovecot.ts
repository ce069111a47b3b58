/**
 * Debian's dovecot (dovecot-imapd) as a test IMAP server: a standalone instance in the foreground
 * of a child process, with its own config, runtime directory, users file and maildirs in a
 * temporary directory, listening on 127.0.0.1 and a free port. Nothing system-wide is read or
 * changed (`-c` names our config; no /etc/dovecot include). Started as root (CI), its internal and
 * login processes run as Debian's `dovecot` and `dovenull` users and the mail as `nobody`;
 * otherwise everything runs as the current user (dovecot's rootless mode).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { tempDir } from './app.ts'
import { closedPort } from './ports.ts'
import { missingService } from './services.ts'

export const DOVECOT = '/usr/sbin/dovecot'

/** The skip reason for a describe that needs dovecot (a failure under INKSTREAM_REQUIRE_SERVICES=1). */
export const dovecotMissing = () =>
  missingService('dovecot', existsSync(DOVECOT), `${DOVECOT} not found (apt-get install dovecot-imapd)`)

export interface StoredMessage {
  uid: number
  flags: string[]
  messageId: string | undefined
}

export interface Dovecot {
  readonly port: number
  readonly user: string
  readonly pass: string
  /** `imap://user:pass@127.0.0.1:port/<mailbox>` plus `query`. */
  url(mailbox?: string, query?: string): string
  append(mailbox: string, raw: Buffer, flags?: string[]): Promise<void>
  /** The messages of a folder ([] when it does not exist). */
  list(mailbox: string): Promise<StoredMessage[]>
  /** Stops the server (connections are dropped); `start()` brings it back with the same mail. */
  stop(): Promise<void>
  start(): Promise<void>
  /** dovecot's log so far, for assertion messages. */
  log(): string
  close(): Promise<void>
}

export async function startDovecot(): Promise<Dovecot> {
  const dir = tempDir('inkstream-dovecot-')
  const port = await closedPort()
  const user = 'bounces'
  const pass = 'p@ss/w%rd secret'
  const root = process.getuid?.() === 0
  const me = userInfo()
  const mailUid = root ? 65534 : me.uid
  const mailGid = root ? 65534 : me.gid
  for (const sub of ['run', 'state', 'home']) mkdirSync(join(dir, sub))
  // mkdtemp makes the directory 0700; the mail processes (nobody) must reach their home.
  chmodSync(dir, 0o755)
  if (root) chownSync(join(dir, 'home'), mailUid, mailGid)
  writeFileSync(join(dir, 'users'), `${user}:{PLAIN}${pass}\n`)
  const config = join(dir, 'dovecot.conf')
  writeFileSync(
    config,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      'protocols = imap',
      'listen = 127.0.0.1',
      'ssl = no',
      // No TLS on loopback: the password goes in cleartext (the test's, to 127.0.0.1 only).
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      `default_internal_user = ${root ? 'dovecot' : me.username}`,
      `default_login_user = ${root ? 'dovenull' : me.username}`,
      ...(root ? [] : [`default_internal_group = ${groupName(me.gid)}`]),
      'first_valid_uid = 1',
      'mail_location = maildir:~/Maildir',
      'passdb {',
      '  driver = passwd-file',
      `  args = scheme=PLAIN username_format=%u ${dir}/users`,
      '}',
      'userdb {',
      '  driver = static',
      `  args = uid=${mailUid} gid=${mailGid} home=${dir}/home/%u`,
      '}',
      // Rootless: no chroot (only root may), as dovecot's rootless install describes.
      ...(root ? [] : ['service anvil {', '  chroot =', '}']),
      'service imap-login {',
      ...(root ? [] : ['  chroot =']),
      '  inet_listener imap {',
      '    address = 127.0.0.1',
      `    port = ${port}`,
      '  }',
      '  inet_listener imaps {',
      '    port = 0',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  let child: ChildProcess | undefined
  let stderr = ''
  const log = () => {
    const file = join(dir, 'dovecot.log')
    return stderr + (existsSync(file) ? readFileSync(file, 'utf8') : '')
  }
  const start = async () => {
    const c = spawn(DOVECOT, ['-F', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = c
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const deadline = Date.now() + 15_000
    while (!(await greets(port))) {
      if (c.exitCode !== null || Date.now() > deadline) {
        // Its helpers (log, anvil, stats) would keep the stderr pipe, and the test, open.
        for (const pid of c.pid === undefined ? [] : childPids(c.pid)) killQuietly(pid)
        c.kill('SIGKILL')
        throw new Error(`dovecot did not start: ${log()}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (c === undefined || c.exitCode !== null) return
    // Its imap processes outlive the master and would keep serving open sessions: a restart
    // drops them here, as a crash or a failover does. Only this master's children, by pid.
    const sessions = c.pid === undefined ? [] : childPids(c.pid)
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    await exited
    for (const pid of sessions) killQuietly(pid)
    // The master is gone; its imap processes go with it. Wait until the port refuses.
    const deadline = Date.now() + 5_000
    while ((await greets(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  }
  const client = async <T>(use: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, logger: false })
    c.on('error', () => undefined)
    await c.connect()
    try {
      return await use(c)
    } finally {
      await c.logout().catch(() => c.close())
    }
  }
  await start()
  return {
    port,
    user,
    pass,
    url: (mailbox = 'INBOX', query = '') =>
      `imap://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}/${encodeURIComponent(mailbox)}${query}`,
    append: (mailbox, raw, flags = []) =>
      client(async (c) => {
        await c.append(mailbox, raw, flags)
      }),
    list: (mailbox) =>
      client(async (c) => {
        const folders = await c.list()
        if (!folders.some((f) => f.path === mailbox)) return []
        const lock = await c.getMailboxLock(mailbox)
        try {
          const out: StoredMessage[] = []
          for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) {
            out.push({
              uid: m.uid,
              flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
              messageId: m.envelope?.messageId,
            })
          }
          return out
        } finally {
          lock.release()
        }
      }),
    stop,
    start,
    log,
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** True when something on the port answers with an IMAP greeting. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(2_000, () => done(false))
    s.once('data', (d: Buffer) => done(d.toString().startsWith('* OK')))
    s.once('error', () => done(false))
  })
}

function groupName(gid: number): string {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(gid))
  return line?.split(':')[0] ?? String(gid)
}

/** The pids of a process's children (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number)
  } catch {
    return []
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}
