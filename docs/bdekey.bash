# bash completion for bdekey                                 -*- shell-script -*-
# Commands and options come from bdekey's own --help, so they never drift
# from the option tables.
_bdekey()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local bin=${words[0]}

	if [[ $cword -eq 1 ]]; then
		local cmds
		cmds=$("$bin" --help 2>/dev/null | awk '/^commands:/{on=1;next} on&&/^  [a-z]/{print $1} /^$/{if(on)exit}')
		COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
		return
	fi
	case $prev in
	--password-file|--client-secret-file|--client-cert|--client-key|\
	--ca-bundle|--config|-o|--output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--source)
		COMPREPLY=($(compgen -W "ad graph all keyvault" -- "$cur"))
		return ;;
	--cloud)
		COMPREPLY=($(compgen -W "global usgov dod china" -- "$cur"))
		return ;;
	--mech)
		COMPREPLY=($(compgen -W "GSSAPI SIMPLE GSS-SPNEGO EXTERNAL" -- "$cur"))
		return ;;
	--assertion-alg)
		COMPREPLY=($(compgen -W "PS256 RS256" -- "$cur"))
		return ;;
	--key-permission)
		COMPREPLY=($(compgen -W "Read.All ReadBasic.All" -- "$cur"))
		return ;;
	--rotate|--boot-change|--lost-protector|--unattended)
		COMPREPLY=($(compgen -W "yes no unknown" -- "$cur"))
		return ;;
	--protector)
		COMPREPLY=($(compgen -W "tpm tpm+pin startup-key password unknown" -- "$cur"))
		return ;;
	--volume)
		# a partition, a whole disk or an image file
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--key-file)
		# a .BEK startup-key file, or a directory on the way to one
		COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.[Bb][Ee][Kk]' -- "$cur"))
		return ;;
	--name|-n|--key-id|-k|--reason|-r|--device|-d|--vault|--vm|\
	--resource-group|-g|--secret|--subscription|--arm)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		local opts
		opts=$("$bin" "${words[1]}" --help 2>/dev/null | grep -o -- '--[a-z0-9-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ ${words[1]} == help ]]; then
		COMPREPLY=($(compgen -W "$("$bin" --help 2>/dev/null | awk '/^commands:/{on=1;next} on&&/^  [a-z]/{print $1}')" -- "$cur"))
	elif [[ ${words[1]} == volume || ${words[1]} == unlock ]]; then
		# partitions, whole disks and image files
		COMPREPLY=($(compgen -f -- "$cur"))
	elif [[ ${words[1]} == lock ]]; then
		# the active mappings (unlock names them bdekey-... by default)
		local maps
		maps=$(ls /dev/mapper 2>/dev/null | grep -vx control)
		COMPREPLY=($(compgen -W "$maps" -- "$cur"))
	fi
}
complete -F _bdekey bdekey
