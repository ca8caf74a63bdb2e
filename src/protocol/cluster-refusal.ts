/**
 * The `detail` of a cluster server's CLIENT_NOT_ALLOWED (PROTOCOL.md §3.2.2): a key refused, or revoked, by the
 * allow-list the cluster's servers share in etcd, which `ferry allow --coordination ...` changes, not the
 * home's file that `ferry allow` writes. The one text both sides know: the server sends it, and a client
 * that reads exactly it names the cluster's command (it never prints a refusal's detail as it came).
 */
export const CLUSTER_REFUSAL_DETAIL = 'not on the cluster allow-list';
