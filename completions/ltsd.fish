# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ltsd_global_optspecs
    string join \n h/help V/version
end

function __fish_ltsd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ltsd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ltsd_using_subcommand
    set -l cmd (__fish_ltsd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ltsd -n "__fish_ltsd_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ltsd -n "__fish_ltsd_needs_command" -s V -l version -d 'Print version'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "standalone" -d 'Tracker, registry and one worker in one process: the quick start'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "tracker" -d 'The JobTracker: durable queue, scheduling, dispatch, recovery'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "worker" -d 'The TaskTracker: pulls runs of its node group and runs them'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l listen -d 'The address to listen on' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l lease -d 'How long a dispatched run\'s lease lasts without a heartbeat' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l retain -d 'Keep finished one-off jobs, run records and log lines this long' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l max-log-bytes -d 'The most log bytes kept per run: its head and its tail, with a marker between (0: all)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l group -d 'The worker\'s node group' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l threads -d 'How many runs at once' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l runner -d 'The program that runs jobs (job JSON on stdin), or builtin:noop' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l grace -d 'On SIGTERM, how long running jobs may take to finish before they are stopped' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l token -d 'The cluster\'s shared secret; required to listen on a non-loopback address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l allow-commands -d 'Run the command a job carries (`lts submit -- CMD ARGS..`)'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l listen -d 'The address to listen on' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l lease -d 'How long a dispatched run\'s lease lasts without a heartbeat' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l retain -d 'Keep finished one-off jobs, run records and log lines this long' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l max-log-bytes -d 'The most log bytes kept per run: its head and its tail, with a marker between (0: all)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l store -d 'The store: sqlite (in the data dir)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l token -d 'The cluster\'s shared secret; required to listen on a non-loopback address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l mdns -d 'Advertise this tracker on the local network by mDNS (_lts._tcp.local)'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l group -d 'The worker\'s node group' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l tracker -l peers -d 'The tracker(s) to pull from (a static peer list); the worker pulls from each' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l threads -d 'How many runs at once' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l runner -d 'The program that runs jobs (job JSON on stdin), or builtin:noop' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l grace -d 'On SIGTERM, how long running jobs may take to finish before they are stopped' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l token -d 'The cluster\'s shared secret; required to listen on a non-loopback address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) instead of --tracker'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l allow-commands -d 'Run the command a job carries (`lts submit -- CMD ARGS..`)'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker help" -f -a "standalone" -d 'Tracker, registry and one worker in one process: the quick start'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker help" -f -a "tracker" -d 'The JobTracker: durable queue, scheduling, dispatch, recovery'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker help" -f -a "worker" -d 'The TaskTracker: pulls runs of its node group and runs them'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
