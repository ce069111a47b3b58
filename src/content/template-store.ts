/** The template part of the Store seam: templates with immutable versions, and reusable blocks. */
import { createHash } from 'node:crypto'

export type BodyFormat = 'mjml' | 'html'

export interface TemplateInput {
  name?: string | undefined
  subject: string
  preheader?: string | undefined
  format: BodyFormat
  body: string
  /** Plain-text body; generated from the HTML when absent. */
  text?: string | undefined
}

export interface TemplateVersion {
  workspaceId: string
  templateId: string
  version: number
  name: string
  subject: string
  preheader: string
  format: BodyFormat
  body: string
  text: string | null
  /** sha256 of the content, so saving identical content does not make a new version. */
  hash: string
  createdAt: number
}

/** The content of a stored version, as it would be saved again (for compiling and lint). */
export const versionInput = (v: TemplateVersion): TemplateInput => ({
  name: v.name,
  subject: v.subject,
  preheader: v.preheader,
  format: v.format,
  body: v.body,
  text: v.text ?? undefined,
})

export interface TemplateSummary {
  templateId: string
  name: string
  latestVersion: number
  updatedAt: number
}

export interface TemplateStore {
  /** Saves a new version, or returns the latest one unchanged (`created: false`) if the content is identical. */
  saveVersion(
    workspaceId: string,
    templateId: string,
    input: TemplateInput,
  ): Promise<{ version: TemplateVersion; created: boolean }>
  /** The given version, or the latest when `version` is undefined. */
  getVersion(workspaceId: string, templateId: string, version?: number): Promise<TemplateVersion | undefined>
  list(workspaceId: string): Promise<TemplateSummary[]>
  versions(
    workspaceId: string,
    templateId: string,
  ): Promise<{ version: number; createdAt: number; hash: string }[]>
  /** Removes the template from listings; its versions stay readable for messages already sent. */
  archive(workspaceId: string, templateId: string): Promise<boolean>
  putBlock(workspaceId: string, name: string, source: string): Promise<void>
  deleteBlock(workspaceId: string, name: string): Promise<boolean>
  blocks(workspaceId: string): Promise<Record<string, string>>
  close(): Promise<void>
}

/** The sha256 of a version's content, as every store computes it (identical content, no new version). */
export const contentHash = (input: TemplateInput) =>
  createHash('sha256')
    .update(
      JSON.stringify([
        input.name ?? '',
        input.subject,
        input.preheader ?? '',
        input.format,
        input.body,
        input.text ?? null,
      ]),
    )
    .digest('hex')

/**
 * The version rule, for every backend: saving `input` after `latest` makes the next version
 * number, keeps the template's name unless a new one is given, and makes nothing (undefined) when
 * the content is identical to the latest version's. Backends call it inside the transaction (or
 * under the lock) that read `latest`.
 */
export function nextVersion(
  latest: TemplateVersion | undefined,
  workspaceId: string,
  templateId: string,
  input: TemplateInput,
  now: number,
): TemplateVersion | undefined {
  const hash = contentHash(input)
  if (latest && latest.hash === hash) return undefined
  return {
    workspaceId,
    templateId,
    version: (latest?.version ?? 0) + 1,
    name: input.name ?? latest?.name ?? templateId,
    subject: input.subject,
    preheader: input.preheader ?? '',
    format: input.format,
    body: input.body,
    text: input.text ?? null,
    hash,
    createdAt: now,
  }
}
