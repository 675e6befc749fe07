#pragma once
// Shared internals of the configuration loader (not part of the public interface).
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/result.h"

namespace replywatch::config::detail {

// "mapping", "list", "string", "empty value".
std::string_view kindOf(const YAML::Node& node);

// `"key" in where` or just `"key"` when `where` is empty.
std::string keyIn(const std::string& key, const std::string& where);

// The closest candidate within edit distance 2 (and shorter than the word), or "".
std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates);

// map[key] when `map` is a mapping and the key is present with a non-null value;
// otherwise an undefined node. Never throws.
YAML::Node child(const YAML::Node& map, const std::string& key);

// The scalar text of `node` with ${ENV} expanded. nullopt (with a problem recorded) for
// a non-scalar node or an unset variable.
std::optional<std::string> scalarText(const YAML::Node& node, const std::string& key, const std::string& file,
                                      const std::string& where, std::vector<Problem>& problems);

// Reports every ${VAR} in the scalars of `node` (recursively) whose variable is unset.
void reportUnsetEnv(const YAML::Node& node, const std::string& file, std::vector<Problem>& problems);

// Reads a whole file.
Result<std::string> readFile(const std::filesystem::path& path);

// True when `name` is usable as a label value and in URLs: [A-Za-z0-9][A-Za-z0-9_.-]*.
bool validName(std::string_view name);

}  // namespace replywatch::config::detail
