/** The TemplateStore seam suite: immutable versions, archiving, blocks. SQLite and PostgreSQL run it. */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { contentHash, type TemplateInput, type TemplateStore } from '../../src/content/template-store.ts'
import type { Clock } from '../../src/core/types.ts'

export interface OpenedTemplateStore {
  store: TemplateStore
  /** A second store on the same database, with its own connection (another process). */
  peer(): Promise<TemplateStore>
  /** Closes both and removes the database. */
  close(): Promise<void>
}

export type OpenTemplateStore = (clock: Clock) => Promise<OpenedTemplateStore>

const T0 = 1_800_000_000_000

const input = (t: Partial<TemplateInput> = {}): TemplateInput => ({
  subject: 'Hello {{ first_name }}',
  format: 'html',
  body: '<p>Hi</p>',
  ...t,
})

export function templateStoreSuite(
  name: string,
  open: OpenTemplateStore,
  opts: { skip?: string | false } = {},
) {
  describe(`TemplateStore seam: ${name}`, { skip: opts.skip ?? false }, () => {
    let opened: OpenedTemplateStore
    let s: TemplateStore
    const clock = { t: T0, now: () => clock.t }
    beforeEach(async () => {
      clock.t = T0
      opened = await open(clock)
      s = opened.store
    })
    afterEach(() => opened.close())

    test('new content is a new version; identical content answers the latest unchanged', async () => {
      const first = await s.saveVersion('w', 'welcome', input({ preheader: 'Psst', text: 'Hi' }))
      assert.deepEqual(first, {
        created: true,
        version: {
          workspaceId: 'w',
          templateId: 'welcome',
          version: 1,
          name: 'welcome',
          subject: 'Hello {{ first_name }}',
          preheader: 'Psst',
          format: 'html',
          body: '<p>Hi</p>',
          text: 'Hi',
          hash: contentHash(input({ preheader: 'Psst', text: 'Hi' })),
          createdAt: T0,
        },
      })
      clock.t = T0 + 5
      const same = await s.saveVersion('w', 'welcome', input({ preheader: 'Psst', text: 'Hi' }))
      assert.deepEqual(same, { created: false, version: first.version })
      const second = await s.saveVersion(
        'w',
        'welcome',
        input({ name: 'Welcome', format: 'mjml', body: '<mjml/>' }),
      )
      assert.deepEqual(
        [
          second.created,
          second.version.version,
          second.version.name,
          second.version.preheader,
          second.version.text,
        ],
        [true, 2, 'Welcome', '', null],
      )
      const third = await s.saveVersion('w', 'welcome', input({ body: '<p>Bye</p>' }))
      assert.equal(third.version.name, 'Welcome', 'the name carries over')
      assert.deepEqual(await s.getVersion('w', 'welcome'), third.version)
      assert.deepEqual(await s.getVersion('w', 'welcome', 1), first.version)
      assert.equal(await s.getVersion('w', 'welcome', 9), undefined)
      assert.equal(await s.getVersion('other', 'welcome'), undefined)
      assert.deepEqual(
        (await s.versions('w', 'welcome')).map((v) => [v.version, v.createdAt, v.hash]),
        [
          [1, T0, first.version.hash],
          [2, T0 + 5, second.version.hash],
          [3, T0 + 5, third.version.hash],
        ],
      )
    })

    test('the list is per workspace, by templateId, with the latest version; archiving hides a template', async () => {
      await s.saveVersion('w', 'b', input())
      await s.saveVersion('w', 'a', input())
      clock.t = T0 + 1
      await s.saveVersion('w', 'a', input({ subject: 'v2' }))
      await s.saveVersion('w2', 'z', input())
      assert.deepEqual(await s.list('w'), [
        { templateId: 'a', name: 'a', latestVersion: 2, updatedAt: T0 + 1 },
        { templateId: 'b', name: 'b', latestVersion: 1, updatedAt: T0 },
      ])
      assert.equal(await s.archive('w', 'a'), true)
      assert.equal(await s.archive('w', 'a'), false)
      assert.equal(await s.archive('w', 'nope'), false)
      assert.deepEqual(
        (await s.list('w')).map((t) => t.templateId),
        ['b'],
      )
      assert.equal((await s.getVersion('w', 'a', 1))?.version, 1, 'versions stay readable')
      const again = await s.saveVersion('w', 'a', input({ subject: 'v2' }))
      assert.equal(again.created, false)
      assert.deepEqual(
        (await s.list('w')).map((t) => t.templateId),
        ['a', 'b'],
        'saving again brings it back',
      )
    })

    test('blocks are put, replaced, listed per workspace and deleted', async () => {
      await s.putBlock('w', 'footer', '<p>v1</p>')
      await s.putBlock('w', 'footer', '<p>v2</p>')
      await s.putBlock('w', 'header', '<h1/>')
      await s.putBlock('w2', 'footer', 'other')
      assert.deepEqual(await s.blocks('w'), { footer: '<p>v2</p>', header: '<h1/>' })
      assert.equal(await s.deleteBlock('w', 'footer'), true)
      assert.equal(await s.deleteBlock('w', 'footer'), false)
      assert.deepEqual(await s.blocks('w'), { header: '<h1/>' })
      assert.deepEqual(await s.blocks('none'), {})
    })

    test('two processes saving different content at once make versions 1 and 2', async () => {
      const other = await opened.peer()
      const saved = await Promise.all([
        s.saveVersion('w', 't', input({ subject: 'one' })),
        other.saveVersion('w', 't', input({ subject: 'two' })),
      ])
      assert.deepEqual(saved.map((r) => r.version.version).sort(), [1, 2])
      assert.equal((await s.list('w'))[0]?.latestVersion, 2)
    })
  })
}
