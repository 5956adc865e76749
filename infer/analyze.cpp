// analyze(): the steps in order (cycles, then the levels that depend on them, then the judgements),
// and the look-ups the outputs use.
#include "internal.hpp"

namespace smplock::infer {

Result analyze(const Graph& g, const Options& options) {
  Result r;
  detail::find_cycles(g, options, r);
  detail::propose_levels(g, options, r);
  detail::judge(g, options, r);
  return r;
}

const LevelEntry* Result::level_of(std::size_t cls) const {
  for (const LevelEntry& l : levels)
    if (l.cls == cls) return &l;
  return nullptr;
}

const Unleveled* Result::unleveled_of(std::size_t cls) const {
  for (const Unleveled& u : unleveled)
    if (u.cls == cls) return &u;
  return nullptr;
}

}  // namespace smplock::infer
