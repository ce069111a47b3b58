/**
 * A first render before the first request: MJML, liquidjs, html-to-text and the render path load
 * and compile once, at start, not inside a preview's or an open's deadline (the open-time deadline
 * is 250 ms; a cold first render on the slower hosts here takes most of it).
 */
import type { Renders } from './render-tasks.ts'

const BODY =
  '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{ first_name }}</mj-text>' +
  '{% live "warm" width: 40, height: 20 %}<div>{{ first_name }}</div>{% fallback %}hello{% endlive %}' +
  '</mj-column></mj-section></mj-body></mjml>'

export async function warmRender(renders: Renders): Promise<void> {
  const base = {
    engine: { workspaceId: 'warm', key: 'warm', blocks: {} },
    version: {
      workspaceId: 'warm',
      templateId: 'warm',
      version: 0,
      name: 'warm',
      subject: 'Hi {{ first_name }}',
      preheader: '',
      format: 'mjml' as const,
      body: BODY,
      text: null,
      hash: '',
      createdAt: 0,
    },
    recipient: { traits: { first_name: 'Ada' }, profileOutcome: 'inline' as const },
    deadline: Date.now() + 10_000,
    budgetMs: 10_000,
    workspaceFallbacks: {},
    startedAt: performance.timeOrigin + performance.now(),
  }
  await renders.email(base)
  await renders.block({ ...base, name: 'warm' })
}
