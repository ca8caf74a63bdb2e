/**
 * `work`, whose failure waits for `background` to settle first: work begun beside it (a local tree's walk,
 * started while the session connects) reports as it goes (a skipped link, say), and a run that failed early
 * (the server refused the connection) must not end before it, or its lines come after the final error, or
 * after the run's promise settled. Its own failure is the work's to report: ignored here.
 */
export async function failingAfter<T>(work: Promise<T>, background: Iterable<Promise<unknown>>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    await Promise.all([...background].map((p) => p.catch(() => undefined)));
    throw err;
  }
}
