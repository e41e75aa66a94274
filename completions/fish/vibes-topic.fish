# fish completion for vibes-topic(1).  Options as in `vibes-topic --help`;
# tests/t/t4000 and t4010 keep them so.
set -l c vibes-topic
# The profile names of $XDG_CONFIG_HOME/vibes/servers.
function __vibes_topic_profiles
    set -l dir $HOME/.config
    set -q XDG_CONFIG_HOME; and set dir $XDG_CONFIG_HOME
    awk '!/^[[:space:]]*(#|$)/ { print $1 }' $dir/vibes/servers 2>/dev/null
end
complete -c $c -f
complete -c $c -n __fish_use_subcommand -a list -d 'Every topic'
complete -c $c -n __fish_use_subcommand -a create -d 'A new topic'
complete -c $c -n __fish_use_subcommand -a set -d 'Change retention and max size'
complete -c $c -n __fish_use_subcommand -a purge -d 'Delete every message'
complete -c $c -n __fish_use_subcommand -a delete -d 'Delete the topic'
complete -c $c -l retention -x -a 'never' -d 'Delete messages older than DURATION'
complete -c $c -l max-size -x -a 'unlimited' -d 'Delete the oldest messages past SIZE bytes'
complete -c $c -l json -d 'List: one JSON object per topic'
complete -c $c -l all -d 'List: internal topics too'
complete -c $c -l yes -d 'Purge, delete: do not ask'
complete -c $c -l server -x -a '127.0.0.1:8090 iggy:// iggys:// (__vibes_topic_profiles)' -d 'Server address or profile name'
complete -c $c -l tls-ca -r -F -d 'CA certificates that verify a TLS server (PEM)'
complete -c $c -l user -x -d 'User name'
complete -c $c -l password-file -r -F -d 'Read the password from the first line of FILE'
complete -c $c -l data-dir -x -a '(__fish_complete_directories)' -d 'Data dir'
complete -c $c -s s -l stream -x -d 'Stream (default vibes)'
complete -c $c -s t -l topic -x -d 'The topic, as the NAME argument'
complete -c $c -l partitions -x -d 'Partitions of a topic made by create (default 8)'
complete -c $c -l timeout -x -d 'Per-request timeout (default 10s)'
complete -c $c -l protocol -x -a '0.8 0.9 auto' -d 'The Iggy protocol (default auto)'
complete -c $c -s v -l verbose -d 'Say more on stderr'
complete -c $c -s h -l help -d 'Show the help'
complete -c $c -s V -l version -d 'Show the version'
