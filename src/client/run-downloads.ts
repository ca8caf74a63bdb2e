import { MAX_BATCHES_IN_FLIGHT } from '../machines/index.js';
import type { ClientSession } from './client-session.js';
import { DownloadStarter, type GetJobResult } from './download-starter.js';
import type { GetPlan } from './download-plan.js';
import type { ExtraStreams } from './extra-sessions.js';
import { smallDownloadsFrom } from './get-batch.js';
import type { GetFilesOptions } from './get-files.js';
import { InFlightWindow } from './in-flight-window.js';
import type { TransferReporting } from './transfer-events.js';

/**
 * Downloads the files of `plan` not yet `done` on one session, in order: runs of small files as batches
 * (PROTOCOL.md §5.20), the others one by one, as many in flight as the window allows. What this session did
 * not finish is left running for the next attempt (`leaveRunning`).
 */
export async function runDownloads(
  session: ClientSession,
  plan: GetPlan,
  localDir: string,
  done: GetJobResult[],
  options: GetFilesOptions & { extras: ExtraStreams },
  reporting: TransferReporting,
): Promise<void> {
  const window = new InFlightWindow(done, reporting.noteProgress);
  const starter = new DownloadStarter(session, localDir, options, reporting);
  // GET_BATCHes sent and not yet answered (PROTOCOL.md §5.20: at most MAX_BATCHES_IN_FLIGHT).
  const batches: Array<Promise<unknown>> = [];
  // Directories of this run found real once (resolveUnderRoot's `knownDirs`): placing re-checks each.
  const knownDirs = new Set<string>();
  try {
    for (let index = 0; index < plan.files.length; index++) {
      if (done[index] !== undefined) continue;
      const group = await smallDownloadsFrom(plan.files, index, done, localDir, options, knownDirs);
      if (group.length > 1) {
        if (batches.length >= MAX_BATCHES_IN_FLIGHT) await batches.shift();
        await window.addGroup(
          group.map(({ index: at }) => at),
          () => {
            // Sent before anything later is asked for: startBatch sends its GET_BATCH before its first await.
            const settled = starter.startBatch(group);
            settled.catch(() => undefined);
            batches.push(settled.catch(() => undefined));
            return Promise.resolve({ done: settled });
          },
        );
        index = group[group.length - 1]!.index;
        continue;
      }
      await window.add(index, () => starter.start(plan.files[index]!));
    }
    await window.drain();
  } finally {
    session.leaveRunning(window.leftOver());
  }
}
