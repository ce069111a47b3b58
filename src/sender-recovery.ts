/**
 * Scale-out senders take over the sends of a sender that died, while they run, not only when one
 * starts: every `intervalMs`, trigger jobs a dead process left `sending` become `unknown` (never
 * resent), and campaigns left `running` with no live process holding them are resumed here.
 *
 * Only for owner-aware stores (PgTriggerStore with a lease, CampaignService with locks): without
 * an owner, recoverInterrupted would also take the sends this very process has in flight.
 */
import type { CampaignService } from './campaigns/campaign-service.ts'

export interface SenderRecoveryDeps {
  triggers: { recoverInterrupted(): Promise<number> }
  campaigns: Pick<CampaignService, 'resumeInterrupted'>
  intervalMs: number
  logger: { info(obj: unknown, msg: string): void; warn(obj: unknown, msg: string): void }
}

/** Starts the loop; the returned function stops it and waits for a pass in progress. */
export function startSenderRecovery(deps: SenderRecoveryDeps): () => Promise<void> {
  let stopped = false
  let pass: Promise<void> = Promise.resolve()
  const once = async () => {
    try {
      const jobs = await deps.triggers.recoverInterrupted()
      if (jobs > 0) deps.logger.info({ jobs }, 'trigger jobs of a stopped sender marked unknown')
      await deps.campaigns.resumeInterrupted()
    } catch (err) {
      deps.logger.warn({ err }, 'recovery of stopped senders failed; trying again later')
    }
  }
  const timer = setInterval(() => {
    if (stopped) return
    pass = pass.then(once)
  }, deps.intervalMs)
  timer.unref()
  return async () => {
    stopped = true
    clearInterval(timer)
    await pass
  }
}
