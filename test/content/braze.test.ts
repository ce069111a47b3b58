// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Braze's ${attribute} syntax is what these strings test
/**
 * Templates written for Braze render unchanged: its `${attribute}` syntax, its filters and
 * `{% abort_message %}`. The examples follow Braze's public documentation (personalization tags,
 * advanced filters, aborting messages), rewritten in our own words; the filter outputs are the
 * values that documentation gives for the same inputs.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { parseAbortArgs } from '../../src/content/braze/abort-message-tag.ts'
import {
  BRAZE_FILTERS,
  numberWithDelimiter,
  propertyAccessor,
} from '../../src/content/braze/braze-filters.ts'
import { prefixStart, translateBraze } from '../../src/content/braze/braze-syntax.ts'
import { compileTemplate, validateTemplate } from '../../src/content/compile.ts'
import type { ConnectedContent } from '../../src/content/connected-content/connected-content.ts'
import { createEngine } from '../../src/content/liquid-engine.ts'
import type { TemplateVersion } from '../../src/content/template-store.ts'
import type { JsonObject } from '../../src/core/types.ts'
import { type RecipientData, type RenderResult, renderEmail } from '../../src/render/render-email.ts'

const noSources: ConnectedContent = {
  fetch: async () => ({ outcome: 'error', message: 'no sources in this test', durationMs: 0 }),
  close: async () => {},
}
const engine = createEngine({
  blocks: { signature: '<p>Sent to {{${email_address}}}</p>' },
  connectedContent: noSources,
})

const version = (body: string, subject = 'Hi'): TemplateVersion => ({
  workspaceId: 'w',
  templateId: 't',
  version: 1,
  name: 't',
  subject,
  preheader: '',
  format: 'html',
  body,
  text: null,
  hash: '',
  createdAt: 0,
})

const MAYA: RecipientData = {
  userId: 'maya-7',
  profileOutcome: 'inline',
  traits: {
    first_name: 'Maya',
    email: 'maya@example.com',
    language: 'en',
    membership_tier: 'gold',
    'Games Attended': 3,
    favorite_book: { title: 'Dune', author: 'Frank Herbert' },
  },
  event: { name: 'Order Completed', properties: { product_name: 'Trail shoes', total: 1234567.5 } },
  campaign: { id: 'spring-sale', name: 'Spring sale' },
}

/**
 * Runs `expression` (over the named export of a src module) in a child process and returns its
 * JSON result. For inputs the public controls that a quadratic algorithm would need minutes for: a
 * synchronous call cannot be interrupted in this process, so the child is killed after KILL_AFTER_MS
 * (a bound far above the milliseconds a linear pass takes, far below the minutes a quadratic one
 * would), and the test then fails on its missing result instead of hanging the suite.
 */
const KILL_AFTER_MS = 60_000
function inChild(module: string, name: string, expression: string): unknown {
  const url = new URL(`../../src/${module}`, import.meta.url).href
  const code = `const { ${name} } = await import(${JSON.stringify(url)}); process.stdout.write(JSON.stringify(${expression}))`
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: KILL_AFTER_MS,
    maxBuffer: 16 * 1024 * 1024,
  })
  assert.equal(child.signal, null, `killed after ${KILL_AFTER_MS} ms: the pass is not linear`)
  assert.equal(child.status, 0, child.stderr)
  return JSON.parse(child.stdout)
}

async function render(
  body: string,
  recipient: RecipientData = MAYA,
  subject?: string,
): Promise<RenderResult> {
  return renderEmail(engine, await compileTemplate(version(body, subject), engine), recipient, {
    workspaceId: 'w',
    deadline: Date.now() + 1_000,
    budgetMs: 1_000,
  })
}

async function html(body: string, traits?: JsonObject): Promise<string> {
  const r = await render(body, traits ? { ...MAYA, traits } : MAYA)
  assert.ok(r.ok, JSON.stringify(r.ok ? '' : (r.error ?? r.skip)))
  return r.html.replace(/^<div[^>]*><\/div>/, '')
}

describe('Braze attribute syntax', () => {
  test('each kind of attribute maps onto our traits, event and campaign variables', () => {
    const cases: [string, string][] = [
      ['{{${first_name}}}', '{{first_name}}'],
      ['{{${email_address}}}', '{{email}}'],
      ['{{${user_id}}}', '{{user_id}}'],
      ['{{${phone_number}}}', '{{phone}}'],
      ['{{custom_attribute.${tier}}}', '{{tier}}'],
      ['{{custom_attribute.${Games Attended}}}', '{{profile["Games Attended"]}}'],
      ['{{custom_attribute.${event}}}', '{{profile.event}}'],
      ['{{event_properties.${name}}}', '{{event.properties.name}}'],
      ['{{campaign.${name}}}', '{{campaign.name}}'],
      ['{{campaign.${api_id}}}', '{{campaign.id}}'],
      ["{% if ${language} == 'en' %}", "{% if language == 'en' %}"],
      ['{{${first_name} | default: "there"}}', '{{first_name | default: "there"}}'],
      [
        '{% connected_content https://api.example.com/u/{{${user_id}}}?t={{custom_attribute.${tier}}} :save u %}',
        '{% connected_content https://api.example.com/u/{{user_id}}?t={{tier}} :save u %}',
      ],
      ['Price: ${price}', 'Price: ${price}'],
      ['{% raw %}{{${first_name}}}{% endraw %}', '{% raw %}{{${first_name}}}{% endraw %}'],
    ]
    for (const [braze, ours] of cases) assert.equal(translateBraze(braze), ours, braze)
  })

  test('translation keeps every line where it was, and leaves templates without Liquid alone', () => {
    const name = fc.stringMatching(/^[A-Za-z_][\w ]{0,12}$/)
    const piece = fc.oneof(
      fc.string().filter((s) => !s.includes('{') && !s.includes('}')),
      name.map((n) => `{{\${${n}}}}`),
      name.map((n) => `{{custom_attribute.\${${n}} | default: "x"}}`),
      name.map((n) => `{% if event_properties.\${${n}} %}\n`),
      fc.constant('\n'),
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const source = pieces.join('')
        const out = translateBraze(source)
        assert.equal(out.split('\n').length, source.split('\n').length)
        assert.ok(!/\{\{[^}]*\$\{/.test(out), out)
        if (!source.includes('{')) assert.equal(out, source)
      }),
    )
  })

  test('the look-back for `word.` before `${` finds what the regex /([A-Za-z_]\\w*)\\s*\\.\\s*$/ found', () => {
    const reference = (text: string, from: number, dollar: number) => {
      const m = /([A-Za-z_]\w*)\s*\.\s*$/.exec(text.slice(from, dollar))
      return m ? from + m.index : dollar
    }
    const chars = fc.constantFrom('a', 'Z', '_', '9', '.', ' ', '\t', '\n', '-', '$')
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 16 }), fc.nat(16), (cs, cut) => {
        const text = `${cs.join('')}\${x}`
        const dollar = text.length - 4
        const from = Math.min(cut, dollar)
        assert.equal(prefixStart(text, from, dollar), reference(text, from, dollar), JSON.stringify(text))
      }),
      { numRuns: 2_000 },
    )
  })

  test('a 400,000-letter word before ${ translates in one pass (the regex look-back took minutes)', () => {
    const out = inChild(
      'content/braze/braze-syntax.ts',
      'translateBraze',
      "[translateBraze('{{ ' + 'a'.repeat(400000) + '${x} }}'), translateBraze('{{ ' + 'b'.repeat(400000) + '.${y} }}')]",
    ) as string[]
    assert.equal(out[0], `{{ ${'a'.repeat(400_000)}x }}`)
    assert.equal(out[1], `{{ ${'b'.repeat(400_000)}.y }}`)
  })

  test('a greeting with a default, as in the standard-attributes example', async () => {
    assert.match(await html("<p>Hi {{${first_name} | default: 'there'}}, new picks inside.</p>"), /Hi Maya,/)
    assert.match(await html("<p>Hi {{${first_name} | default: 'there'}}!</p>", {}), /Hi there!/)
  })

  test('a custom attribute drives a condition, and names with spaces read the profile', async () => {
    const body = `{% if custom_attribute.\${membership_tier} == 'gold' %}<p>Early access for Gold members.</p>{% else %}<p>Upgrade for early access.</p>{% endif %}<p>{{custom_attribute.\${Games Attended}}} games</p>`
    const out = await html(body)
    assert.match(out, /Early access for Gold members/)
    assert.match(out, /<p>3 games<\/p>/)
  })

  test('event properties, the campaign name, the address and the user id', async () => {
    const out = await html(
      '<p>{{event_properties.${product_name}}} · {{campaign.${name}}} · {{${email_address}}} · {{${user_id}}}</p>{% render "signature", email: email %}',
    )
    assert.match(out, /<p>Trail shoes · Spring sale · maya@example.com · maya-7<\/p>/)
    assert.match(out, /<p>Sent to maya@example.com<\/p>/)
  })

  test('the subject may use the syntax too, and a missing attribute still falls back', async () => {
    const r = await render('<p>x</p>', { ...MAYA, traits: {} }, 'For {{${first_name} | default: "you"}}')
    assert.ok(r.ok)
    assert.equal(r.subject, 'For you')
    assert.deepEqual(
      r.report.fallbacks.map((f) => [f.placeholder, f.reason]),
      [['first_name', 'missing']],
    )
  })

  test('a broken ${ attribute is a save-time problem with its line, not a crash', async () => {
    const problems = await validateTemplate(
      { subject: 'Hi', format: 'html', body: '<p>ok</p>\n<p>{{ ${first_name }}</p>\n<p>{{ ${last_name</p>' },
      engine,
    )
    assert.equal(problems[0]?.kind, 'liquid')
    assert.match(problems[0]?.message ?? '', /line:? ?2\b/)
  })
})

describe('Braze filters', () => {
  test("the encoding filters give the documented values for 'hey', 'blah' and 'secret_key'", async () => {
    const out = await html(
      "<p>{{'hey' | md5}}|{{'hey' | sha1}}|{{'hey' | sha2}}|{{'hey' | hmac_sha1: 'secret_key'}}|{{'hey' | hmac_sha1_base64: 'secret_key'}}|{{'hey' | hmac_sha256_hex: 'secret_key'}}|{{'blah' | base64}}</p>",
    )
    assert.equal(
      out,
      '<p>6057f13c496ecf7fd777ceb9e79ae285|7f550a9f4c44173a37664d938f1355f0f92a47a7|fa690b82061edfd2852629aeba8a8977b57e40fcb77d1a7a28b26cba62591204|2a3969bed25bfeefb00aca4063eb9590b4df8f0e|KjlpvtJb/u+wCspAY+uVkLTfjw4=|8df897f8da3d7992fe57c8dbc6f27578cfbf2dcc4d0fbb4000b8c924841d508e|YmxhaA==</p>',
    )
  })

  test('url_escape keeps URL structure; url_param_escape escapes a whole parameter value', async () => {
    const out = await html(
      "<a href=\"https://shop.example/s?q={{'hey<&>hi' | url_param_escape}}\">{{'hey<>hi' | url_escape}}</a>",
    )
    assert.match(out, /q=hey%3C%26%3Ehi"/)
    assert.match(out, />hey%3C%3Ehi</)
    assert.equal(BRAZE_FILTERS.url_escape!('/a b?x=1&y=2'), '/a%20b?x=1&y=2')
  })

  test('number_with_delimiter groups thousands and leaves what is not a number alone', async () => {
    assert.match(
      await html('<p>{{ event_properties.${total} | number_with_delimiter }}</p>'),
      /<p>1,234,567.5<\/p>/,
    )
    assert.equal(numberWithDelimiter(123456), '123,456')
    assert.equal(numberWithDelimiter('-9876543'), '-9,876,543')
    assert.equal(numberWithDelimiter(999), '999')
    assert.equal(numberWithDelimiter(1234.5, '.', ','), '1.234,5')
    assert.equal(numberWithDelimiter('n/a'), 'n/a')
  })

  test('number_with_delimiter groups any run of digits like the regex it replaced', () => {
    const reference = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
    fc.assert(
      fc.property(fc.stringMatching(/^-?\d{1,40}(\.\d{1,5})?$/), (n) => {
        const [whole = '', fraction] = n.split('.')
        const expected = reference(whole) + (fraction === undefined ? '' : `.${fraction}`)
        assert.equal(numberWithDelimiter(n), expected)
      }),
      { numRuns: 1_000 },
    )
  })

  test('number_with_delimiter on a 600,002-digit value a recipient sent finishes: one delimiter per three digits', () => {
    const out = inChild(
      'content/braze/braze-filters.ts',
      'numberWithDelimiter',
      "numberWithDelimiter('-' + '7'.repeat(600002) + '.5', ' ')",
    ) as string
    assert.equal(out.split(' ').length - 1, 200_000)
    assert.ok(out.startsWith('-77 777 777 '), out.slice(0, 20))
    assert.ok(out.endsWith(' 777.5'), out.slice(-20))
  })

  test('url_escape and url_param_escape print a lone surrogate as U+FFFD instead of failing the render', async () => {
    const out = await html('<a href="/s?q={{ q | url_param_escape }}">{{ q | url_escape }}</a>', {
      q: 'a\ud800b c',
    })
    assert.equal(out, '<a href="/s?q=a%EF%BF%BDb%20c">a%EF%BF%BDb%20c</a>')
  })

  test('json_escape makes a value safe between the quotes of a JSON string', () => {
    const escaped = BRAZE_FILTERS.json_escape!('say "hi"\n\\ bye') as string
    assert.equal(escaped, 'say \\"hi\\"\\n\\\\ bye')
    assert.deepEqual(JSON.parse(`{"v":"${escaped}"}`), { v: 'say "hi"\n\\ bye' })
  })

  test('property_accessor reads a key chosen at render time, own properties only', async () => {
    const out = await html(
      "{% assign field = 'author' %}<p>{{ custom_attribute.${favorite_book} | property_accessor: field }}|{{ profile | property_accessor: 'membership_tier' }}|{{ profile | property_accessor: 'constructor' }}</p>",
    )
    assert.match(out, /<p>Frank Herbert\|gold\|<\/p>/)
    assert.equal(propertyAccessor({}, 'toString'), undefined)
    assert.equal(propertyAccessor('text', 'length'), undefined)
  })
})

describe('abort_message', () => {
  test("aborting for recipients whose language is not English skips them with the template's reason", async () => {
    const body =
      "{% if ${language} == 'en' %}<p>Read this in English.</p>{% else %}{% abort_message('language was nil') %}{% endif %}"
    const en = await render(body)
    assert.ok(en.ok)
    const other = await render(body, { ...MAYA, traits: { first_name: 'Jo' } })
    assert.equal(other.ok, false)
    assert.deepEqual(other.skip, { type: 'abort_message', reason: 'language was nil' })
    assert.equal(other.error, undefined)
  })

  test('without a reason the skip says abort_message was called; with or without parentheses', async () => {
    for (const tag of ['{% abort_message() %}', '{% abort_message %}', '{% abort_message("") %}']) {
      const r = await render(`<p>x</p>${tag}`)
      assert.deepEqual(r.skip, { type: 'abort_message', reason: 'abort_message called' }, tag)
    }
  })

  test('a fallback section does not swallow an abort inside it', async () => {
    const r = await render(
      "{% section 'games' %}{% if custom_attribute.${Games Attended} > 5 %}<p>Regular!</p>{% else %}{% abort_message('too few games') %}{% endif %}{% fallback %}<p>generic</p>{% endsection %}",
    )
    assert.deepEqual(r.skip, { type: 'abort_message', reason: 'too few games' })
  })

  test('the reason must be a quoted string: anything else is refused at save', async () => {
    assert.throws(() => parseAbortArgs('(first_name)'), /one quoted reason/)
    const problems = await validateTemplate(
      { subject: 'Hi', format: 'html', body: '{% abort_message(${first_name}) %}' },
      engine,
    )
    assert.match(problems[0]?.message ?? '', /one quoted reason/)
  })
})
