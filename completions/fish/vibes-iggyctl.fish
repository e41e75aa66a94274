# fish completion for vibes-iggyctl(1).  Commands and options as in
# `vibes-iggyctl --help`; tests/t/t4000 and t4010 keep them so.
set -l c vibes-iggyctl

# Prints the command on the line: the first word that is neither a global
# option nor the value of one.
function __vibes_iggyctl_command
    set -l words (commandline -opc)
    set -e words[1]
    while set -q words[1]
        switch $words[1]
            case -d --data-dir --addr --port --server-bin --http --tls-cert --tls-key
                set -e words[1]
            case '-*'
            case '*'
                echo $words[1]
                return 0
        end
        set -e words[1]
    end
    return 1
end

function __vibes_iggyctl_no_command
    not __vibes_iggyctl_command >/dev/null
end

function __vibes_iggyctl_command_is
    contains -- (__vibes_iggyctl_command) $argv
end

complete -c $c -f
set -l top __vibes_iggyctl_no_command
complete -c $c -n $top -a start -d 'Start the server under supervision; fails if running'
complete -c $c -n $top -a ensure -d 'Start it unless it runs'
complete -c $c -n $top -a stop -d 'Stop it (SIGTERM, then SIGKILL)'
complete -c $c -n $top -a restart -d 'Stop, then start'
complete -c $c -n $top -a status -d 'State, pid, address, uptime, disk used, stats'
complete -c $c -n $top -a run -d 'Run the server in the foreground'
complete -c $c -n $top -a logs -d 'Print the last lines of server.log'
complete -c $c -n $top -a env -d 'Print export lines for eval'
complete -c $c -n $top -a http -d 'A curl config for the HTTP API'
complete -c $c -n $top -s d -l data-dir -x -a '(__fish_complete_directories)' -d 'Data dir'
complete -c $c -n $top -l addr -x -a '127.0.0.1:8090 127.0.0.1:0' -d 'Listen address'
complete -c $c -n $top -l port -x -a '8090 0' -d 'Listen on 127.0.0.1:N (0: kernel-chosen)'
complete -c $c -n $top -l http -x -a '127.0.0.1:3000 127.0.0.1:0' -d 'HTTP API address'
complete -c $c -n $top -l no-http -d 'No HTTP API'
complete -c $c -n $top -l server-bin -r -F -d 'Server binary'
complete -c $c -n $top -l tls-cert -r -F -d 'TLS on the server port with this certificate chain (PEM)'
complete -c $c -n $top -l tls-key -r -F -d 'Private key of the certificate (PEM)'
complete -c $c -n $top -s h -l help -d 'Show the help'
complete -c $c -n $top -s V -l version -d 'Show the version'
complete -c $c -n '__vibes_iggyctl_command_is start ensure stop restart' -l timeout -x -d 'Seconds to wait'
complete -c $c -n '__vibes_iggyctl_command_is status' -l json -d 'JSON output'
complete -c $c -n '__vibes_iggyctl_command_is logs' -s f -l follow -d 'Keep printing what is appended'
complete -c $c -n '__vibes_iggyctl_command_is logs' -s n -l lines -x -d 'How many lines (default 10)'
complete -c $c -n '__vibes_iggyctl_command_is http' -s u -l url -d 'Print the URL only'
complete -c $c -n '__vibes_iggyctl_command_is http' -a '/streams /stats /users /clients /metrics' -d 'Path'
