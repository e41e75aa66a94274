# fish completion for vibes-seek(1).  Options as in `vibes-seek --help`;
# tests/t/t4000 and t4010 keep them so.
set -l c vibes-seek
# The profile names of $XDG_CONFIG_HOME/vibes/servers.
function __vibes_seek_profiles
    set -l dir $HOME/.config
    set -q XDG_CONFIG_HOME; and set dir $XDG_CONFIG_HOME
    awk '!/^[[:space:]]*(#|$)/ { print $1 }' $dir/vibes/servers 2>/dev/null
end
complete -c $c -f
complete -c $c -s c -l consumer -x -d 'An independent consumer'
complete -c $c -s g -l group -x -d 'A consumer group'
complete -c $c -l to -x -a 'beginning\t"Forget the committed offset" end\t"Skip everything stored"' -d 'Move to POSITION'
complete -c $c -s p -l partition -x -d 'Only partition N'
complete -c $c -l json -d 'One JSON object per partition'
complete -c $c -l all -d 'Every consumer and group of the topic'
complete -c $c -l delete -d "Delete the consumer's positions, or the group"
complete -c $c -l server -x -a '127.0.0.1:8090 iggy:// iggys:// (__vibes_seek_profiles)' -d 'Server address or profile name'
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
