#pragma once
// File-system helpers shared by the store's files (the commit log, the store file
// builder). Blocking, thread-safe (no state).
#include <filesystem>
#include <string_view>

#include "daemon/core/result.h"

namespace replywatch::store {

// The Error for a failed system call with errno `err` on `path`: reason "store_full"
// when the disk or quota is full (ENOSPC, EDQUOT), "store" otherwise; message
// "<what> <path>: <strerror>".
Error ioError(int err, std::string_view what, const std::filesystem::path& path);

// Syncs a directory (an empty path is the current one), so that a file created, renamed
// or removed in it survives a crash. 0, or the errno of the failure.
int syncDirectory(const std::filesystem::path& dir);

}  // namespace replywatch::store
