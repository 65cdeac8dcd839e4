#include "tools/cli/verify/sampling.h"

#include <algorithm>
#include <set>

#include "checks/gemm_vs_oracle.h"
#include "optimized/kernels/path_rows.h"
#include "tools/cli/verify/gemm_checks.h"

namespace nvfp4::cli {

using checks::kEdgeColumns;

namespace {

// Which M, and what each is there for: the classes of the kernel set's paths it reaches.
std::string reached_by(opt::Isa isa, const std::vector<std::int64_t>& ms) {
  std::string why;
  for (std::int64_t M : ms) {
    std::string r;
    for (const auto& c : opt::row_classes(isa, M)) r += (r.empty() ? "" : "; ") + c;
    why += (why.empty() ? "" : "; ") + std::to_string(M) + ": " + (r.empty() ? "no path of its own" : r);
  }
  return why;
}

std::vector<std::string> unreached(opt::Isa isa, const std::vector<std::int64_t>& ms) {
  std::set<std::string> reached;
  for (std::int64_t M : ms)
    for (const auto& c : opt::row_classes(isa, M)) reached.insert(c);
  std::vector<std::string> r;
  for (const auto& c : opt::all_row_classes(isa))
    if (!reached.count(c)) r.push_back(c);
  return r;
}

}  // namespace

Sampled describe_sampling(const VerifyOptions& v, const Coverage& c) {
  const std::vector<std::int64_t>& ms = v.activation_rows;
  const std::int64_t distinct = ms.empty() ? 0 : ms.back();  // random rows: the largest M
  Sampled s{ms, opt::isa_name(c.isa), ms.empty() ? 0 : 2 * kEdgeColumns, c.experts, v.reloads, c.chunks, ""};
  s.description =
      ms.empty() ? "GEMMs not checked (--activation-rows 0)"
                 : "GEMMs: every output row of every linear module and of every expert's w13 and w2 (" + std::to_string(c.experts) +
                       " experts), one GEMM per projection and mode of each of M = " + m_list(ms) + " random activation rows (--activation-rows" +
                       (c.by_paths ? "; by default one M per " + std::string(opt::isa_name(c.isa)) + " kernel path and row remainder" : "") +
                       ": " + reached_by(c.isa, ms) + "), optimized kernels against the exact oracle, the first and last row of each GEMM (the same " +
                       std::to_string(std::min<std::int64_t>(distinct, 2)) + " rows in all) on every output row" +
                       (distinct > 2 ? ", the other " + std::to_string(distinct - 2) + " rows on the first and last " + std::to_string(kEdgeColumns) : "") +
                       "; the reference's Eigen path on the first and last " + std::to_string(kEdgeColumns) + " rows of each, for those " +
                       std::to_string(std::min<std::int64_t>(distinct, 2)) + " activation rows";
  if (c.chunks)
    s.description += "; experts checked in " + std::to_string(c.chunks) + " chunks (layers over " + std::to_string(c.chunk_mib) +
                     " MiB, --experts-chunk-mib): values that take a max over a layer's experts (w13/w2 input scales, g1/g2 alphas) were "
                     "derived per chunk, not per layer";
  return s;
}

std::vector<std::string> not_checked(const VerifyOptions& v, const Coverage& c) {
  const std::vector<std::int64_t>& ms = v.activation_rows;
  std::vector<std::string> n;
  if (ms.empty()) n.push_back("GEMMs (--activation-rows 0)");
  else {
    const std::int64_t distinct = ms.back();
    n.push_back("activations other than " + std::to_string(distinct) + " random normal rows per projection and mode (--activation-rows picks the M; the "
                "properties cover other inputs)");
    if (distinct > 2)
      n.push_back("the activation rows between the first and last of each GEMM beyond the first and last " + std::to_string(kEdgeColumns) +
                  " rows of each projection of more than " + std::to_string(2 * kEdgeColumns) + " rows");
    for (const auto& u : unreached(c.isa, ms)) n.push_back("the " + std::string(opt::isa_name(c.isa)) + " kernel path no M reached: " + u);
    n.push_back("the reference's Eigen path beyond the first and last " + std::to_string(kEdgeColumns) + " rows of each projection");
  }
  if (v.reloads == 0) n.push_back("reloads from disk (--reloads 0)");
  if (c.chunks) n.push_back("layer-wide maxima of expert input scales and alphas (experts checked in chunks; --experts-chunk-mib)");
  n.push_back("the other MoE backend (--backend " + std::string(v.backend == Backend::Cutlass ? "trtllm" : "cutlass") + ")");
  n.push_back("unquantized tensors (embeddings, norms, router, lm_head): neither pipeline transforms them");
  return n;
}

}  // namespace nvfp4::cli
