#include "daemon/app/landing_page.h"

#include <fmt/format.h>

#include "replywatch/version.h"

namespace replywatch::app {

std::string landingPage() {
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>replywatch</title>
<style>body{{font-family:sans-serif;max-width:48em;margin:2em auto;padding:0 1em;color:#222}}
code{{background:#f2f2f2;padding:0 .2em}}li{{margin:.3em 0}}</style></head>
<body>
<h1>replywatch</h1>
<p>How long your community waits for an answer, measured per account, channel and route
(internal staff or agency).</p>
<ul>
<li><a href="metrics">Metrics</a> &mdash; Prometheus exposition</li>
<li><a href="api/v1/questions">Question turns</a> &mdash; JSON, filters <code>account</code>, <code>since</code>, <code>until</code>, <code>limit</code>, pages through <code>Link</code> headers</li>
<li><a href="-/healthy">Health</a> and <a href="-/ready">readiness</a></li>
<li>Webhooks: <code>POST /webhooks/&lt;source&gt;</code></li>
</ul>
<p>Version {} (revision {})</p>
</body>
</html>
)",
                     kVersion, kRevision);
}

}  // namespace replywatch::app
