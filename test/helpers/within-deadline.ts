// A deadline on an awaited event, never a pause: the event's promise, or a failure that says what hung.

/** `promise`, or a failure with `message` once `ms` passed (the timer is cleared either way). */
export async function withinDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(deadline));
}
