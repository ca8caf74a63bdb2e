/**
 * How long `FerryServer.close` waits for its sessions to end (`ferry serve`'s `--stop-grace` default), in ms.
 * A session closing writes what it received and made durable: at most the uploads' memory (512 MiB,
 * UPLOAD_MEMORY_TOTAL_BYTES), about 5 s on a disk taking 100 MB/s; twice that is a disk that is not taking
 * data (NFS, FUSE, a dying disk), which would otherwise keep the server from closing at all. Supervisors
 * wait longer before their SIGKILL (systemd 90 s, Kubernetes 30 s), so a server stopped by one ends within
 * its own grace; under `docker stop` (10 s) pass `-t 15` or a shorter `--stop-grace`.
 */
export const CLOSE_GRACE_MS = 10_000;

/** How `FerryServer.close` ends the sessions still running. */
export interface CloseOptions {
  /**
   * How long the sessions get to end, in ms (default CLOSE_GRACE_MS; `Infinity`: for as long as they take).
   * They end at once, not when their transfers would have (partials are kept: a client resumes); this bounds
   * only their ending. Past it `close` resolves with the sessions left: each still waits on a call that did
   * not return (a disk that stopped taking data), which may yet write its partial when it does. A process
   * should then exit (a thread stuck in such a write keeps `process.exit` waiting: `ferry serve` kills
   * itself) or at least not serve the same root again before `sessionStates()` is empty.
   */
  graceMs?: number;
}
