# fish completion for vibes-append(1).  Options as in `vibes-append --help`;
# tests/t/t4000 and t4010 keep them so.  Arguments are files.
set -l c vibes-append
# The profile names of $XDG_CONFIG_HOME/vibes/servers.
function __vibes_append_profiles
    set -l dir $HOME/.config
    set -q XDG_CONFIG_HOME; and set dir $XDG_CONFIG_HOME
    awk '!/^[[:space:]]*(#|$)/ { print $1 }' $dir/vibes/servers 2>/dev/null
end
complete -c $c -s k -l key-field -x -a session_id -d 'Key = the top-level member NAME of each line'
complete -c $c -s K -l key -x -d 'The same key for every line'
complete -c $c -s p -l partition -x -d 'Every line into partition N'
complete -c $c -s B -l balanced -d 'Batches round robin over the partitions'
complete -c $c -l batch -x -d 'Lines per batch (default 1000)'
complete -c $c -l linger -x -d 'Send a partial batch after this idle time (default 5ms)'
complete -c $c -l buffer -x -d 'Unacknowledged data kept while the server is away (default 64M)'
complete -c $c -l retry-timeout -x -d 'Give up after the server was unreachable that long (default 60s)'
complete -c $c -l skip-invalid -d 'Report bad lines and go on'
complete -c $c -l header -x -d 'A user header for every event (NAME=VALUE)'
complete -c $c -l acks -d 'Print line, partition and offset of every sent line'
complete -c $c -l progress -d 'Show the rate on stderr'
complete -c $c -l no-progress -d 'Never show the rate'
complete -c $c -l server -x -a '127.0.0.1:8090 iggy:// iggys:// (__vibes_append_profiles)' -d 'Server address or profile name'
complete -c $c -l tls-ca -r -F -d 'CA certificates that verify a TLS server (PEM)'
complete -c $c -l user -x -d 'User name'
complete -c $c -l password-file -r -F -d 'Read the password from the first line of FILE'
complete -c $c -l data-dir -x -a '(__fish_complete_directories)' -d 'Data dir'
complete -c $c -s s -l stream -x -d 'Stream (default vibes)'
complete -c $c -s t -l topic -x -d 'Topic (default events)'
complete -c $c -l partitions -x -d 'Partitions when the topic is created (default 8)'
complete -c $c -l timeout -x -d 'Per-request timeout (default 10s)'
complete -c $c -l protocol -x -a '0.8 0.9 auto' -d 'The Iggy protocol (default auto)'
complete -c $c -s v -l verbose -d 'Say more on stderr'
complete -c $c -s h -l help -d 'Show the help'
complete -c $c -s V -l version -d 'Show the version'
