/** Where a server listens: what a client connects to, and names remote paths in errors by. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}
