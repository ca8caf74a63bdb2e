/**
 * `dir/prefix` + the byte 0xFE (never UTF-8) + `suffix`, as a path node's fs takes it: bytes. A name anyone
 * who may write into a tree can make (`touch $'b\xfe.txt'`) and that can never travel (PROTOCOL.md §1).
 */
export function notUtf8Name(dir: string, prefix: string, suffix = ''): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/${prefix}`), Buffer.from([0xfe]), Buffer.from(suffix)]);
}
