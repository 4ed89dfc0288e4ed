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
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "standalone" -d 'A tracker (which also keeps node membership) and one worker in one process: the quick start'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "tracker" -d 'The JobTracker: durable queue, scheduling, dispatch, recovery'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "worker" -d 'The TaskTracker: pulls runs of its node group and runs them'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "registry" -d 'Node membership: registrations with a TTL, one master per node group, a watchable stream of changes'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "cert" -d 'Write a self-signed TLS certificate and its key, for --tls-cert/--tls-key and --tls-ca'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "token" -d 'Print a fresh random cluster token (for --token, LTS_TOKEN or --read-token)'
complete -c ltsd -n "__fish_ltsd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l listen -d 'The address to listen on' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l http -d 'Where to serve the web console, the JSON API and health checks, or `off`; non-loopback needs a token, and --tls-cert makes it HTTPS' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l lease -d 'How long a dispatched run\'s lease lasts without a heartbeat' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l retain -d 'Keep finished one-off jobs, run records and log lines this long' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l max-log-bytes -d 'The most log bytes kept per run: its head and its tail, with a marker between (0: all)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l store -d 'The store: sqlite (in the data dir) or postgres://user@host:port/db (shared by several trackers)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l leader-ttl -d 'On a shared store: how long the leader lease lasts unrenewed (the leader fires ticks, expires leases and prunes)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l read-token -d 'A second token that may only read (jobs, logs, nodes, stats, feedback): for dashboards and on-call; needs --token' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l max-connections -d 'Connections at once, in all; the last few are kept for lts, so workers holding the rest cannot lock it out (lowered to fit ulimit -n)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l max-connections-per-peer -d 'Connections at once from one peer address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l idle-timeout -d 'Close a connection that has had no request in flight this long (a long poll is in flight)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l group -d 'The worker\'s node group' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l threads -d 'How many runs at once' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l runner -d 'The program that runs jobs (job JSON on stdin), or builtin:noop' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l grace -d 'On SIGTERM, how long running jobs may take to finish before they are stopped' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l token -d 'The cluster\'s shared secret, proved to peers without being sent; a role that listens on a non-loopback address requires it [default: `token` in lts/config.toml]' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l tls-cert -d 'Serve TLS only, with this PEM certificate (chain); see `ltsd cert`' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l init -d 'Create the SQLite store even over an empty (0-byte) lts.db; without it an empty file is refused, since it was a store once'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l no-metrics -d 'Count no metrics (`lts bench --standalone --no-metrics` measures what counting costs)'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -l allow-commands -d 'Run the command a job carries (`lts submit -- CMD ARGS..`)'
complete -c ltsd -n "__fish_ltsd_using_subcommand standalone" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l listen -d 'The address to listen on' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l http -d 'Where to serve the web console, the JSON API and health checks, or `off`; non-loopback needs a token, and --tls-cert makes it HTTPS' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l lease -d 'How long a dispatched run\'s lease lasts without a heartbeat' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l retain -d 'Keep finished one-off jobs, run records and log lines this long' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l max-log-bytes -d 'The most log bytes kept per run: its head and its tail, with a marker between (0: all)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l store -d 'The store: sqlite (in the data dir) or postgres://user@host:port/db (shared by several trackers)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l leader-ttl -d 'On a shared store: how long the leader lease lasts unrenewed (the leader fires ticks, expires leases and prunes)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l read-token -d 'A second token that may only read (jobs, logs, nodes, stats, feedback): for dashboards and on-call; needs --token' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l max-connections -d 'Connections at once, in all; the last few are kept for lts, so workers holding the rest cannot lock it out (lowered to fit ulimit -n)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l max-connections-per-peer -d 'Connections at once from one peer address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l idle-timeout -d 'Close a connection that has had no request in flight this long (a long poll is in flight)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l registry -d 'Register with this registry, so that workers and clients find this tracker' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l token -d 'The cluster\'s shared secret, proved to peers without being sent; a role that listens on a non-loopback address requires it [default: `token` in lts/config.toml]' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l tls-cert -d 'Serve TLS only, with this PEM certificate (chain); see `ltsd cert`' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l tls-ca -d 'Dial over TLS, trusting this PEM certificate or CA (a self-signed certificate is its own CA) [default: `tls_ca` in lts/config.toml]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l init -d 'Create the SQLite store even over an empty (0-byte) lts.db; without it an empty file is refused, since it was a store once'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l no-metrics -d 'Count no metrics (`lts bench --standalone --no-metrics` measures what counting costs)'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -l mdns -d 'Advertise this tracker on the local network by mDNS (_lts._tcp.local)'
complete -c ltsd -n "__fish_ltsd_using_subcommand tracker" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l group -d 'The worker\'s node group' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l tracker -l peers -d 'The tracker(s) to pull from (a static peer list, also spelled --peers; the worker pulls from each) [default: the registry\'s trackers with --registry, else 127.0.0.1:7420]' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l registry -d 'Register with this registry; without --tracker, pull from the trackers it lists (the master first)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l http -d 'Serve /metrics, /healthz and /readyz here (non-loopback needs a token, which /metrics then asks for)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l threads -d 'How many runs at once' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l runner -d 'The program that runs jobs (job JSON on stdin), or builtin:noop' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l grace -d 'On SIGTERM, how long running jobs may take to finish before they are stopped' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l token -d 'The cluster\'s shared secret, proved to peers without being sent; a role that listens on a non-loopback address requires it [default: `token` in lts/config.toml]' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l tls-ca -d 'Dial over TLS, trusting this PEM certificate or CA (a self-signed certificate is its own CA) [default: `tls_ca` in lts/config.toml]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l tls-cert -d 'The cluster\'s PEM certificate, as the trackers serve it: dial over TLS trusting it (as --tls-ca)' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l tls-key -d 'The certificate\'s key; a dialing role does not use it (accepted so every role takes the same pair)' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l mdns -d 'Find trackers by mDNS (_lts._tcp.local) instead of --tracker'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -l allow-commands -d 'Run the command a job carries (`lts submit -- CMD ARGS..`)'
complete -c ltsd -n "__fish_ltsd_using_subcommand worker" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l listen -d 'The address to listen on' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l ttl -d 'How long a node stays registered without a heartbeat (nodes heartbeat every third of it)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l max-connections -d 'Connections at once, in all; the last few are kept for lts, so workers holding the rest cannot lock it out (lowered to fit ulimit -n)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l max-connections-per-peer -d 'Connections at once from one peer address' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l idle-timeout -d 'Close a connection that has had no request in flight this long (a long poll is in flight)' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l data -d 'Where the role keeps its state [default: the platform data dir + lts]' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l token -d 'The cluster\'s shared secret, proved to peers without being sent; a role that listens on a non-loopback address requires it [default: `token` in lts/config.toml]' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l tls-cert -d 'Serve TLS only, with this PEM certificate (chain); see `ltsd cert`' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand registry" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand cert" -l out -d 'The directory to write cert.pem and key.pem into (made if missing; existing files are kept)' -r -F
complete -c ltsd -n "__fish_ltsd_using_subcommand cert" -l san -d 'Another host name or IP address the certificate is for (repeatable); localhost, 127.0.0.1, ::1 and this host\'s name always are' -r
complete -c ltsd -n "__fish_ltsd_using_subcommand cert" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand token" -s h -l help -d 'Print help'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "standalone" -d 'A tracker (which also keeps node membership) and one worker in one process: the quick start'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "tracker" -d 'The JobTracker: durable queue, scheduling, dispatch, recovery'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "worker" -d 'The TaskTracker: pulls runs of its node group and runs them'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "registry" -d 'Node membership: registrations with a TTL, one master per node group, a watchable stream of changes'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "cert" -d 'Write a self-signed TLS certificate and its key, for --tls-cert/--tls-key and --tls-ca'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "token" -d 'Print a fresh random cluster token (for --token, LTS_TOKEN or --read-token)'
complete -c ltsd -n "__fish_ltsd_using_subcommand help; and not __fish_seen_subcommand_from standalone tracker worker registry cert token help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
