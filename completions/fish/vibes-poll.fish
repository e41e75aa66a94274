# fish completion for vibes-poll(1).  Options as in `vibes-poll --help`;
# tests/t/t4000 and t4010 keep them so.
set -l c vibes-poll
# The profile names of $XDG_CONFIG_HOME/vibes/servers.
function __vibes_poll_profiles
    set -l dir $HOME/.config
    set -q XDG_CONFIG_HOME; and set dir $XDG_CONFIG_HOME
    awk '!/^[[:space:]]*(#|$)/ { print $1 }' $dir/vibes/servers 2>/dev/null
end
complete -c $c -f
complete -c $c -s c -l consumer -x -d 'An independent consumer'
complete -c $c -s g -l group -x -d 'A member of consumer group NAME'
complete -c $c -l start -x -a 'beginning\t"Replay the history" end\t"Only events that come next"' -d 'Where a new consumer begins'
complete -c $c -l from -x -a 'committed\t"No move" beginning\t"The first event" end\t"After the last event"' -d 'Move the consumer first (committed)'
complete -c $c -l order -x -a 'time\t"Merged by timestamp" partition\t"Partition after partition"' -d 'Order of the partitions read in a round'
complete -c $c -l skip-bad -d 'Report a message that cannot be read and step over it'
complete -c $c -s p -l partition -x -d 'Read only partition N (repeatable)'
complete -c $c -s n -l count -x -d 'Stop after COUNT events'
complete -c $c -l until -x -a 'end\t"The end as it is now"' -d 'Stop each partition at POSITION'
complete -c $c -l idle-timeout -x -d 'With -f, exit after DURATION without an event'
complete -c $c -s f -l follow -d 'Keep waiting for new events'
complete -c $c -l interval -x -d 'Wait between polls while caught up (default 100ms)'
complete -c $c -l batch -x -d 'Events per poll request (default 4096)'
complete -c $c -l format -x -a 'raw\t"The payload as stored" json\t"An envelope with partition, offset, timestamp, id"' -d 'Output format'
complete -c $c -l no-commit -d 'Do not commit (only with -c)'
complete -c $c -l handoff -x -a 'line\t"One line at a time" block\t"Large chunks"' -d 'How events are handed to a pipe'
complete -c $c -l server -x -a '127.0.0.1:8090 iggy:// iggys:// (__vibes_poll_profiles)' -d 'Server address or profile name'
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
