#include "daemon/store/file_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace replywatch::store {

Error ioError(int err, std::string_view what, const std::filesystem::path& path) {
  if (err == ENOSPC || err == EDQUOT) {
    return makeError("store_full",
                     fmt::format("{} {}: the disk is full ({})", what, path.string(), std::strerror(err)));
  }
  return makeError("store", fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

int syncDirectory(const std::filesystem::path& dir) {
  const std::filesystem::path which = dir.empty() ? std::filesystem::path(".") : dir;
  const int fd = ::open(which.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

}  // namespace replywatch::store
