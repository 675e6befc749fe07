#pragma once
// Helpers shared by the tracker's translation units (not part of the public interface).
#include <chrono>
#include <vector>

#include "daemon/core/model.h"

namespace replywatch::tracker::internal {

// Drops duplicate ids (keeping, for each id, the copy with the earliest created_at, then
// the first one given) and sorts by (created_at, id).
void sortAndDedup(std::vector<MessageRecord>& messages);

// Turns of messages already sorted by (created_at, id) without duplicate ids.
std::vector<Turn> turnsOfSorted(const std::vector<MessageRecord>& messages,
                                std::chrono::milliseconds threshold);

// True when (created_at, id) of a orders before b.
inline bool messageLess(const MessageRecord& a, const MessageRecord& b) {
  if (a.created_at != b.created_at) return a.created_at < b.created_at;
  return a.id < b.id;
}

}  // namespace replywatch::tracker::internal
