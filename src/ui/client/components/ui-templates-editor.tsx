/**
 * The template body editor: CodeMirror 6 with Liquid over HTML highlighting, and the server's lint
 * problems of the body shown inline (a range on the line, a gutter marker). Loaded only in the
 * templates page's chunk.
 */
import { html } from '@codemirror/lang-html'
import { liquid } from '@codemirror/lang-liquid'
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language'
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint'
import { tags } from '@lezer/highlight'
import { basicSetup, EditorView } from 'codemirror'
import { useEffect, useRef } from 'preact/hooks'
import type { LintProblem } from './ui-templates-types.ts'

export interface BodyEditorProps {
  /** The accessible name of the editor's content. */
  label: string
  value: string
  onChange: (value: string) => void
  /** Lint problems of every part; those of the body are shown in the editor. */
  problems: readonly LintProblem[]
}

/** The body's problems as diagnostics of `doc`: a problem without a line marks line 1. */
export function diagnosticsOf(
  doc: EditorView['state']['doc'],
  problems: readonly LintProblem[],
): Diagnostic[] {
  return problems
    .filter((p) => p.part === 'body')
    .map((p) => {
      // The lint ran on a text that may have changed since: keep the line inside the document.
      const line = doc.line(Math.min(Math.max(p.line ?? 1, 1), doc.lines))
      return {
        from: line.from,
        to: line.to,
        severity: p.level,
        source: p.code,
        message: p.message,
      }
    })
}

/**
 * CodeMirror's default colours, darkened where they fail WCAG AA contrast (4.5:1) on the editor's
 * white and active-line backgrounds (#085 tag names measured 4.26 there; #e40 and #f00 fail on white).
 */
const readable = HighlightStyle.define([
  { tag: tags.meta, color: '#404740' },
  { tag: tags.link, textDecoration: 'underline' },
  { tag: tags.heading, textDecoration: 'underline', fontWeight: 'bold' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strong, fontWeight: 'bold' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: tags.keyword, color: '#708' },
  { tag: [tags.atom, tags.bool, tags.url, tags.contentSeparator, tags.labelName], color: '#219' },
  { tag: [tags.literal, tags.inserted], color: '#164' },
  { tag: [tags.string, tags.deleted], color: '#a11' },
  { tag: [tags.regexp, tags.escape, tags.special(tags.string)], color: '#b33200' },
  { tag: tags.definition(tags.variableName), color: '#00f' },
  { tag: tags.local(tags.variableName), color: '#30a' },
  { tag: [tags.typeName, tags.namespace], color: '#0b5f2e' },
  { tag: tags.className, color: '#167' },
  { tag: [tags.special(tags.variableName), tags.macroName], color: '#256' },
  { tag: tags.definition(tags.propertyName), color: '#00c' },
  { tag: tags.comment, color: '#940' },
  { tag: tags.invalid, color: '#c00' },
])

export function BodyEditor(props: BodyEditorProps) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView>()
  const onChange = useRef(props.onChange)
  onChange.current = props.onChange

  useEffect(() => {
    if (!host.current) return
    const v = new EditorView({
      parent: host.current,
      doc: props.value,
      extensions: [
        basicSetup,
        syntaxHighlighting(readable),
        liquid({ base: html() }),
        lintGutter(),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': props.label }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChange.current(u.state.doc.toString())
        }),
      ],
    })
    view.current = v
    return () => {
      v.destroy()
      view.current = undefined
    }
  }, [])

  // A value set from outside (a version loaded) replaces the document; typing does not come back here.
  useEffect(() => {
    const v = view.current
    if (!v || v.state.doc.toString() === props.value) return
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } })
  }, [props.value])

  useEffect(() => {
    const v = view.current
    if (!v) return
    v.dispatch(setDiagnostics(v.state, diagnosticsOf(v.state.doc, props.problems)))
  }, [props.problems])

  return <div class="tpl-editor" ref={host} />
}
