#pragma once
// A WriteBatch as bytes, for the commit log (commit_log.h): what the store acknowledged
// before applying it, read back after a crash. The encoding is private to one store
// directory (written and read by the same replywatch version range): a version byte
// first, then every field in declaration order, strings and counts as unsigned LEB128
// lengths, times as signed milliseconds (zigzag LEB128), optionals behind a presence
// byte.
//
// Threading: plain functions, no state.
#include <string>
#include <string_view>

#include "daemon/core/result.h"
#include "daemon/store/store.h"

namespace replywatch::store {

// Appends the encoding of `batch` to `out`.
void encodeBatch(const WriteBatch& batch, std::string& out);

// Decodes what encodeBatch() wrote. An Error (reason "store") when `bytes` is truncated,
// has bytes left over, carries an unknown version or an out-of-range enum value.
Result<WriteBatch> decodeBatch(std::string_view bytes);

}  // namespace replywatch::store
