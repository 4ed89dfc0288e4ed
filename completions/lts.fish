# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lts_global_optspecs
    string join \n tracker= token= tls-ca= registry= balance= mdns data= o/output= h/help V/version
end

function __fish_lts_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lts_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lts_using_subcommand
    set -l cmd (__fish_lts_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lts -n "__fish_lts_needs_command" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_needs_command" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_needs_command" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_needs_command" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_needs_command" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_needs_command" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_needs_command" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_needs_command" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_needs_command" -s V -l version -d 'Print version'
complete -c lts -n "__fish_lts_needs_command" -f -a "submit" -d 'Submit a job and print its task id'
complete -c lts -n "__fish_lts_needs_command" -f -a "jobs" -d 'List jobs'
complete -c lts -n "__fish_lts_needs_command" -f -a "job" -d 'Show one job with its runs'
complete -c lts -n "__fish_lts_needs_command" -f -a "logs" -d 'Print (or follow) the output of a job\'s run'
complete -c lts -n "__fish_lts_needs_command" -f -a "nodes" -d 'List the nodes (from the registry, else the tracker) or watch them join, leave and change master'
complete -c lts -n "__fish_lts_needs_command" -f -a "edit" -d 'Change a job\'s schedule, params, command or limits; its history stays'
complete -c lts -n "__fish_lts_needs_command" -f -a "cancel" -d 'Cancel a job (or, with --all, every job selected): no more runs; a queued run leaves the queue, a running one is stopped'
complete -c lts -n "__fish_lts_needs_command" -f -a "suspend" -d 'Suspend a job (or, with --all, every job selected): no more ticks; a running run finishes'
complete -c lts -n "__fish_lts_needs_command" -f -a "resume" -d 'Resume a suspended job (or, with --all, every one selected): missed ticks follow its misfire policy'
complete -c lts -n "__fish_lts_needs_command" -f -a "trigger" -d 'Run a job once more now; its schedule is untouched'
complete -c lts -n "__fish_lts_needs_command" -f -a "retry" -d 'Run a job\'s last run again when it did not succeed'
complete -c lts -n "__fish_lts_needs_command" -f -a "feedback" -d 'Print (and acknowledge) the results of jobs submitted with --feedback'
complete -c lts -n "__fish_lts_needs_command" -f -a "spool" -d 'List or deliver the jobs kept by `submit --spool` while no tracker answered'
complete -c lts -n "__fish_lts_needs_command" -f -a "purge" -d 'Delete ended jobs, with their runs and logs, now'
complete -c lts -n "__fish_lts_needs_command" -f -a "alerts" -d 'Alerts raised, with each delivery attempt'
complete -c lts -n "__fish_lts_needs_command" -f -a "alert" -d 'Alert rules: list, add, rm, test'
complete -c lts -n "__fish_lts_needs_command" -f -a "flow" -d 'Workflows, steps that run after one another: submit, show, cancel, list'
complete -c lts -n "__fish_lts_needs_command" -f -a "stats" -d 'Counts by state and group, throughput and queue age'
complete -c lts -n "__fish_lts_needs_command" -f -a "status" -d 'The cluster at a glance: trackers (version, leader, store), workers, queues'
complete -c lts -n "__fish_lts_needs_command" -f -a "version" -d 'This client\'s version and the tracker\'s, and their protocol'
complete -c lts -n "__fish_lts_needs_command" -f -a "cron" -d 'Print the next fire times of a cron expression, or why it is invalid'
complete -c lts -n "__fish_lts_needs_command" -f -a "bench" -d 'Load a cluster (or a standalone one started for it) and print throughput and latency'
complete -c lts -n "__fish_lts_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c lts -n "__fish_lts_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand submit" -l task-id -d 'The job\'s id [default: generated, short and sortable]' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l idempotency-key -d 'Names this submission: run again with the same key (and the same job), the command answers as the first time instead of "already exists"; the key is refused for a different job. Without --task-id, the task id is made from the key [default: a random key per run]' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -s g -l group -d 'The worker node group that may run it' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l param -d 'A parameter for the runner (repeatable)' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l params-json -d 'Parameters as a JSON object' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l cron -d 'Quartz cron with seconds (`0 0/1 * * * ?`), 5-field Unix cron, or a macro (`@daily`)' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l tz -d 'Time zone of the cron expression [default: the tracker\'s]' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l at -d 'Run once at this time' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l delay -d 'Run once after this long (`90s`, `15m`, `1h30m`, `3d`)' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l repeat-count -d 'Run N times (-1: forever), --repeat-interval apart' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l repeat-interval -d 'The time between repeated runs' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l priority -d 'Higher runs first among due jobs' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l max-retries -d 'Run again on failure, up to N times' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l retry-backoff -d 'The first retry\'s delay; doubled each time, with jitter, capped at 1h' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l timeout -d 'Stop a run that takes longer, and count it as timed out' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l overlap -d 'When a tick comes while the previous run still goes [default: skip]' -r -f -a "skip\t''
allow\t''
buffer-one\t''
replace\t''"
complete -c lts -n "__fish_lts_using_subcommand submit" -l misfire -d 'Ticks missed while no tracker ran [default: fire-once]' -r -f -a "fire-once\t''
skip\t''
fire-all\t''"
complete -c lts -n "__fish_lts_using_subcommand submit" -l catch-up-window -d 'With --misfire fire-all, catch up only ticks this recent' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l client-group -d 'The submitting client node group' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l alert -d 'Raise an alert when a run ends so: failed (once retries are spent), timed_out, lost, skipped' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l alert-to -d 'Where the job\'s alerts go: https://.., http://.. or cmd:PATH' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l shards -d 'Run each tick as N runs (1 to 1000), spread over the group\'s workers, with LTS_SHARD=0..N-1 and LTS_SHARDS=N in their environment' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l after -d 'Wait (state `waiting`) until these jobs have succeeded; cancelled if one fails or is cancelled' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l file -d 'Submit many jobs: one JSON job a line, with the flags\' names as keys' -r -F
complete -c lts -n "__fish_lts_using_subcommand submit" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand submit" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand submit" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand submit" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand submit" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand submit" -l replace -d 'Replace an existing job with the same task id and group'
complete -c lts -n "__fish_lts_using_subcommand submit" -l rely-on-prev-cycle -d 'The same as --overlap skip (LTS\'s relyOnPrevCycle)'
complete -c lts -n "__fish_lts_using_subcommand submit" -l feedback -d 'Keep the result in the client group\'s feedback queue until read'
complete -c lts -n "__fish_lts_using_subcommand submit" -l broadcast -d 'Run each tick once on every live worker of the group (one run per worker)'
complete -c lts -n "__fish_lts_using_subcommand submit" -l wait -d 'Block until the first run ends; exit 0 if it succeeded, 1 if not'
complete -c lts -n "__fish_lts_using_subcommand submit" -l spool -d 'If no tracker answers, keep the job in the local spool (in the data dir) and exit 0; `lts spool flush` or the next submit delivers it'
complete -c lts -n "__fish_lts_using_subcommand submit" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand submit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand jobs" -s g -l group -d 'Only jobs of this worker group' -r
complete -c lts -n "__fish_lts_using_subcommand jobs" -l state -d 'Only jobs in this state' -r -f -a "scheduled\t''
waiting\t''
queued\t''
running\t''
succeeded\t''
failed\t''
retrying\t''
suspended\t''
cancelled\t''
broken\t''"
complete -c lts -n "__fish_lts_using_subcommand jobs" -l kind -d 'Only jobs of this kind' -r -f -a "now\t''
at\t''
cron\t''
repeat\t''"
complete -c lts -n "__fish_lts_using_subcommand jobs" -l limit -d 'At most this many, the newest (0: all of them)' -r
complete -c lts -n "__fish_lts_using_subcommand jobs" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand jobs" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand jobs" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand jobs" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand jobs" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand jobs" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand jobs" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand jobs" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand jobs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand job" -s g -l group -d 'The job\'s worker group, when the task id alone is ambiguous' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l runs -d 'How many runs to show, the newest' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l before -d 'Only runs numbered below RUN: the next page of an earlier answer' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand job" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand job" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand job" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand job" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand job" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand job" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand logs" -s g -l group -d 'The job\'s worker group, when the task id alone is ambiguous' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l run -d 'The run number [default: the latest]' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l tail -d 'Only the last N lines' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand logs" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand logs" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand logs" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand logs" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand logs" -s f -l follow -d 'Keep printing new lines until the run ends'
complete -c lts -n "__fish_lts_using_subcommand logs" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand nodes" -l role -d 'Only nodes of this role' -r -f -a "tracker\t''
worker\t''
registry\t''"
complete -c lts -n "__fish_lts_using_subcommand nodes" -s g -l group -d 'Only nodes of this group' -r
complete -c lts -n "__fish_lts_using_subcommand nodes" -l after -d 'With --watch: start after event SEQ (an earlier event\'s `seq`) instead of now; 0 replays the history the registry keeps' -r
complete -c lts -n "__fish_lts_using_subcommand nodes" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand nodes" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand nodes" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand nodes" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand nodes" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand nodes" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand nodes" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand nodes" -s w -l watch -d 'Print join, leave and master events as they happen (from the registry, else the tracker)'
complete -c lts -n "__fish_lts_using_subcommand nodes" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand nodes" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand edit" -s g -l group -d 'The job\'s worker group, when the task id alone is ambiguous' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l cron -d 'A new cron schedule: Quartz with seconds, 5-field Unix cron, or a macro (`@daily`)' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l tz -d 'Time zone of the new cron expression [default: the tracker\'s]' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l at -d 'Run once at this time instead' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l delay -d 'Run once this long from now instead' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l repeat-count -d 'Run N times (-1: forever), --repeat-interval apart, counted from the job\'s first fire' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l repeat-interval -d 'The time between repeated runs (at least 1s)' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l param -d 'Set a parameter (repeatable); the others stay unless --replace-params' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l params-json -d 'Set parameters from a JSON object' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l priority -d 'Higher runs first among due jobs' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l max-retries -d 'Run again on failure, up to N times' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l retry-backoff -d 'The first retry\'s delay; doubled each time, with jitter, capped at 1h' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l timeout -d 'Stop a run that takes longer, and count it as timed out' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l overlap -d 'When a tick comes while the previous run still goes' -r -f -a "skip\t''
allow\t''
buffer-one\t''
replace\t''"
complete -c lts -n "__fish_lts_using_subcommand edit" -l misfire -d 'Ticks missed while no tracker ran' -r -f -a "fire-once\t''
skip\t''
fire-all\t''"
complete -c lts -n "__fish_lts_using_subcommand edit" -l catch-up-window -d 'With --misfire fire-all, catch up only ticks this recent' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l alert -d 'Raise an alert when a run ends so, from now on: failed (once retries are spent), timed_out, lost, skipped' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l alert-to -d 'Where the job\'s alerts go from now on: https://.., http://.. or cmd:PATH' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand edit" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand edit" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand edit" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand edit" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand edit" -l replace-params -d 'Drop every parameter not given with --param or --params-json'
complete -c lts -n "__fish_lts_using_subcommand edit" -l no-timeout -d 'Remove the job\'s timeout'
complete -c lts -n "__fish_lts_using_subcommand edit" -l no-alert -d 'Stop raising alerts for this job (its outcomes and target are removed)'
complete -c lts -n "__fish_lts_using_subcommand edit" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand edit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand cancel" -s g -l group -d 'The job\'s worker group (with --all: only jobs of this group)' -r
complete -c lts -n "__fish_lts_using_subcommand cancel" -l state -d 'With --all: only jobs in this state' -r -f -a "scheduled\t''
waiting\t''
queued\t''
running\t''
succeeded\t''
failed\t''
retrying\t''
suspended\t''
cancelled\t''
broken\t''"
complete -c lts -n "__fish_lts_using_subcommand cancel" -l kind -d 'With --all: only jobs of this kind' -r -f -a "now\t''
at\t''
cron\t''
repeat\t''"
complete -c lts -n "__fish_lts_using_subcommand cancel" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand cancel" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand cancel" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand cancel" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand cancel" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand cancel" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand cancel" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand cancel" -l all -d 'Every job the selectors pick (all jobs without any), instead of one'
complete -c lts -n "__fish_lts_using_subcommand cancel" -s y -l yes -d 'With --all: do not ask first (needed without a terminal)'
complete -c lts -n "__fish_lts_using_subcommand cancel" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand suspend" -s g -l group -d 'The job\'s worker group (with --all: only jobs of this group)' -r
complete -c lts -n "__fish_lts_using_subcommand suspend" -l state -d 'With --all: only jobs in this state' -r -f -a "scheduled\t''
waiting\t''
queued\t''
running\t''
succeeded\t''
failed\t''
retrying\t''
suspended\t''
cancelled\t''
broken\t''"
complete -c lts -n "__fish_lts_using_subcommand suspend" -l kind -d 'With --all: only jobs of this kind' -r -f -a "now\t''
at\t''
cron\t''
repeat\t''"
complete -c lts -n "__fish_lts_using_subcommand suspend" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand suspend" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand suspend" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand suspend" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand suspend" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand suspend" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand suspend" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand suspend" -l all -d 'Every job the selectors pick (all jobs without any), instead of one'
complete -c lts -n "__fish_lts_using_subcommand suspend" -s y -l yes -d 'With --all: do not ask first (needed without a terminal)'
complete -c lts -n "__fish_lts_using_subcommand suspend" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand suspend" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand resume" -s g -l group -d 'The job\'s worker group (with --all: only jobs of this group)' -r
complete -c lts -n "__fish_lts_using_subcommand resume" -l state -d 'With --all: only jobs in this state' -r -f -a "scheduled\t''
waiting\t''
queued\t''
running\t''
succeeded\t''
failed\t''
retrying\t''
suspended\t''
cancelled\t''
broken\t''"
complete -c lts -n "__fish_lts_using_subcommand resume" -l kind -d 'With --all: only jobs of this kind' -r -f -a "now\t''
at\t''
cron\t''
repeat\t''"
complete -c lts -n "__fish_lts_using_subcommand resume" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand resume" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand resume" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand resume" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand resume" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand resume" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand resume" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand resume" -l all -d 'Every job the selectors pick (all jobs without any), instead of one'
complete -c lts -n "__fish_lts_using_subcommand resume" -s y -l yes -d 'With --all: do not ask first (needed without a terminal)'
complete -c lts -n "__fish_lts_using_subcommand resume" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand trigger" -s g -l group -d 'The job\'s worker group, when the task id alone is ambiguous' -r
complete -c lts -n "__fish_lts_using_subcommand trigger" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand trigger" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand trigger" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand trigger" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand trigger" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand trigger" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand trigger" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand trigger" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand trigger" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand retry" -s g -l group -d 'The job\'s worker group, when the task id alone is ambiguous' -r
complete -c lts -n "__fish_lts_using_subcommand retry" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand retry" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand retry" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand retry" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand retry" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand retry" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand retry" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand retry" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand feedback" -l client-group -d 'The client node group whose results to read [default: `client_group` in the config file]' -r
complete -c lts -n "__fish_lts_using_subcommand feedback" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand feedback" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand feedback" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand feedback" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand feedback" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand feedback" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand feedback" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand feedback" -s f -l follow -d 'Keep waiting for results and print them as they come, until interrupted'
complete -c lts -n "__fish_lts_using_subcommand feedback" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand feedback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -f -a "list" -d 'List the jobs waiting in the spool, oldest first'
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -f -a "flush" -d 'Deliver the waiting jobs to the tracker, in the order they were spooled'
complete -c lts -n "__fish_lts_using_subcommand spool; and not __fish_seen_subcommand_from list flush help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from flush" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the jobs waiting in the spool, oldest first'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "flush" -d 'Deliver the waiting jobs to the tracker, in the order they were spooled'
complete -c lts -n "__fish_lts_using_subcommand spool; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand purge" -l older-than -d 'Only jobs that ended (last changed) longer ago than this (`7d`, `12h`, `0s` for all)' -r
complete -c lts -n "__fish_lts_using_subcommand purge" -s g -l group -d 'Only jobs of this worker group' -r
complete -c lts -n "__fish_lts_using_subcommand purge" -l state -d 'Only jobs that ended so' -r -f -a "succeeded\t''
failed\t''
cancelled\t''
broken\t''"
complete -c lts -n "__fish_lts_using_subcommand purge" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand purge" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand purge" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand purge" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand purge" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand purge" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand purge" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand purge" -s y -l yes -d 'Do not ask first (needed without a terminal)'
complete -c lts -n "__fish_lts_using_subcommand purge" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alerts" -s g -l group -d 'Only alerts of this worker group' -r
complete -c lts -n "__fish_lts_using_subcommand alerts" -l limit -d 'How many of the newest to show' -r
complete -c lts -n "__fish_lts_using_subcommand alerts" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alerts" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alerts" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alerts" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alerts" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alerts" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alerts" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alerts" -s f -l follow -d 'Keep printing alerts as they are raised, folded, resolved or delivered (one JSON object a line with -o json)'
complete -c lts -n "__fish_lts_using_subcommand alerts" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alerts" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -f -a "list" -d 'List the alert rules'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -f -a "add" -d 'Add a rule: raise an alert when COND holds, and deliver it to TARGET'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -f -a "rm" -d 'Remove a rule (its alerts stay)'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -f -a "test" -d 'Raise a test alert for a rule and show how its delivery went'
complete -c lts -n "__fish_lts_using_subcommand alert; and not __fish_seen_subcommand_from list add rm test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l when -d 'failed | timed_out | lost | skipped | failures>=N/DUR | no-worker | queue-age>DUR | fire-lag>DUR' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -s g -l group -d 'Only this worker group [default: every group, each on its own]' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l for -d 'The condition must hold this long before the alert is raised (states only)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l silence -d 'The same alert raised again within this is folded into the open one [default: 5m]' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l to -d 'Where alerts go: https://.., http://.. (a POST of the alert JSON) or cmd:PATH (the JSON on stdin)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l template -d 'A file whose text is the webhook\'s body, with {{message}}, {{text}}, {{group}}, .. filled in' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l replace -d 'Replace a rule of the same name'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the alert rules'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a rule: raise an alert when COND holds, and deliver it to TARGET'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a rule (its alerts stay)'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "test" -d 'Raise a test alert for a rule and show how its delivery went'
complete -c lts -n "__fish_lts_using_subcommand alert; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -f -a "submit" -d 'Submit a flow (TOML: name, optional cron and tz, on_failure, [[step]]s) and print its id'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -f -a "show" -d 'Draw a flow\'s graph with each step\'s state (its latest run)'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -f -a "cancel" -d 'Cancel the steps of a flow\'s open run and stop its cron'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -f -a "list" -d 'List flows, newest first'
complete -c lts -n "__fish_lts_using_subcommand flow; and not __fish_seen_subcommand_from submit show cancel list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from submit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l limit -d 'How many of the newest to show' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "submit" -d 'Submit a flow (TOML: name, optional cron and tz, on_failure, [[step]]s) and print its id'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "show" -d 'Draw a flow\'s graph with each step\'s state (its latest run)'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel the steps of a flow\'s open run and stop its cron'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "list" -d 'List flows, newest first'
complete -c lts -n "__fish_lts_using_subcommand flow; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand stats" -s g -l group -d 'Only this worker group' -r
complete -c lts -n "__fish_lts_using_subcommand stats" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand stats" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand stats" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand stats" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand stats" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand stats" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand stats" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand stats" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand status" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand status" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand status" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand status" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand status" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand status" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand status" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand version" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand version" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand version" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand version" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand version" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand version" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand version" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand version" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand version" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand cron" -s n -l count -d 'How many fire times' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l from -d 'Start after this time [default: now]' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l tz -d 'The time zone [default: this machine\'s]' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand cron" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand cron" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand cron" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand cron" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand cron" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand cron" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand bench" -l jobs -d 'How many jobs' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l clients -d 'How many concurrent clients submit them' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -s g -l group -d 'The worker group the jobs go to (its workers should run builtin:noop)' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l kind -d 'now: run at once; at: run 1 s after submit; cron: every second (cancelled after its first run)' -r -f -a "now\t''
at\t''
cron\t''"
complete -c lts -n "__fish_lts_using_subcommand bench" -l payload -d 'Bytes of parameters each job carries' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l batch -d 'Jobs per submit call (1: one call and one acknowledged commit per job)' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l deadline -d 'Give up waiting for the runs after this long: the jobs not run yet are cancelled' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand bench" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand bench" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand bench" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand bench" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand bench" -l standalone -d 'Start `ltsd standalone` (found next to lts, or at LTS_LTSD) with a no-op worker on a temporary store, and stop it at the end'
complete -c lts -n "__fish_lts_using_subcommand bench" -l no-metrics -d 'With --standalone: count no metrics (to measure what counting costs)'
complete -c lts -n "__fish_lts_using_subcommand bench" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand bench" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand completions" -l tracker -d 'Tracker address(es) to talk to, comma-separated' -r
complete -c lts -n "__fish_lts_using_subcommand completions" -l token -d 'The cluster\'s shared secret, proved to the tracker without being sent' -r
complete -c lts -n "__fish_lts_using_subcommand completions" -l tls-ca -d 'Talk TLS, trusting this PEM certificate or CA (see `ltsd cert`)' -r -F
complete -c lts -n "__fish_lts_using_subcommand completions" -l registry -d 'A registry to find trackers through (and to ask for `nodes`)' -r
complete -c lts -n "__fish_lts_using_subcommand completions" -l balance -d 'With several trackers, which one to use [default: random]' -r -f -a "random\t'A random one; then the others in list order after it'
round-robin\t'Each new connection starts at the tracker after the last one used'
first\t'The first that answers, in list order'"
complete -c lts -n "__fish_lts_using_subcommand completions" -l data -d 'Where lts keeps its spool [default: the platform data dir + lts]' -r -F
complete -c lts -n "__fish_lts_using_subcommand completions" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c lts -n "__fish_lts_using_subcommand completions" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) on the local network instead of --tracker'
complete -c lts -n "__fish_lts_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "submit" -d 'Submit a job and print its task id'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "jobs" -d 'List jobs'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "job" -d 'Show one job with its runs'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "logs" -d 'Print (or follow) the output of a job\'s run'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "nodes" -d 'List the nodes (from the registry, else the tracker) or watch them join, leave and change master'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "edit" -d 'Change a job\'s schedule, params, command or limits; its history stays'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "cancel" -d 'Cancel a job (or, with --all, every job selected): no more runs; a queued run leaves the queue, a running one is stopped'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "suspend" -d 'Suspend a job (or, with --all, every job selected): no more ticks; a running run finishes'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "resume" -d 'Resume a suspended job (or, with --all, every one selected): missed ticks follow its misfire policy'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "trigger" -d 'Run a job once more now; its schedule is untouched'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "retry" -d 'Run a job\'s last run again when it did not succeed'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "feedback" -d 'Print (and acknowledge) the results of jobs submitted with --feedback'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "spool" -d 'List or deliver the jobs kept by `submit --spool` while no tracker answered'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "purge" -d 'Delete ended jobs, with their runs and logs, now'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "alerts" -d 'Alerts raised, with each delivery attempt'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "alert" -d 'Alert rules: list, add, rm, test'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "flow" -d 'Workflows, steps that run after one another: submit, show, cancel, list'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "stats" -d 'Counts by state and group, throughput and queue age'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "status" -d 'The cluster at a glance: trackers (version, leader, store), workers, queues'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "version" -d 'This client\'s version and the tracker\'s, and their protocol'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "cron" -d 'Print the next fire times of a cron expression, or why it is invalid'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "bench" -d 'Load a cluster (or a standalone one started for it) and print throughput and latency'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c lts -n "__fish_lts_using_subcommand help; and not __fish_seen_subcommand_from submit jobs job logs nodes edit cancel suspend resume trigger retry feedback spool purge alerts alert flow stats status version cron bench completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "list" -d 'List the jobs waiting in the spool, oldest first'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from spool" -f -a "flush" -d 'Deliver the waiting jobs to the tracker, in the order they were spooled'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from alert" -f -a "list" -d 'List the alert rules'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from alert" -f -a "add" -d 'Add a rule: raise an alert when COND holds, and deliver it to TARGET'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from alert" -f -a "rm" -d 'Remove a rule (its alerts stay)'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from alert" -f -a "test" -d 'Raise a test alert for a rule and show how its delivery went'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "submit" -d 'Submit a flow (TOML: name, optional cron and tz, on_failure, [[step]]s) and print its id'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "show" -d 'Draw a flow\'s graph with each step\'s state (its latest run)'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "cancel" -d 'Cancel the steps of a flow\'s open run and stop its cron'
complete -c lts -n "__fish_lts_using_subcommand help; and __fish_seen_subcommand_from flow" -f -a "list" -d 'List flows, newest first'
