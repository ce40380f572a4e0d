/* cmd_key: hilrun key new --id NAME [--dir DIR]: a contributor's Ed25519
 * key pair (share/keys.h): DIR/NAME.key (secret, 0600, never overwritten)
 * and DIR/NAME.pub, whose one line is what the lab adds to its keys file.
 * DIR defaults to $XDG_CONFIG_HOME/hilrun, else ~/.config/hilrun.
 *
 * Ownership: the paths are the command's own. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keys.h"

int cmd_key(int argc, char **argv, struct settings *s)
{
	(void)s;
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2 || strcmp(argv[1], "new")) {
		say_error("key: expected 'key new --id NAME [--dir DIR]'");
		return EXIT_USAGE;
	}
	argc--, argv++;
	const char *id = NULL, *dir_arg = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'i')
			id = optarg;
		else if (c == 'd')
			dir_arg = optarg;
		else
			return EXIT_USAGE;
	}
	if (!id || optind != argc) {
		say_error("key new: expected --id NAME (your contributor id, e.g. --id alice) and no other arguments");
		return EXIT_USAGE;
	}
	struct hil_err err;
	char *dir = dir_arg ? xstrdup(dir_arg) : key_default_dir(&err);
	if (!dir) {
		say_error("key new: %s", err.msg);
		return EXIT_USAGE;
	}
	struct key_public pub;
	char *key_path, *pub_path;
	if (key_new(dir, id, &pub, &key_path, &pub_path, &err) < 0) {
		say_error("key new: %s", err.msg);
		free(dir);
		return EXIT_USAGE;
	}
	char *line = key_public_line(&pub);
	printf("secret key: %s (mode 0600; keep it, hilrun upload signs with it)\n"
	       "public key: %s\n"
	       "send the lab this line for its keys file:\n%s\n",
	       key_path, pub_path, line);
	free(line);
	free(key_path);
	free(pub_path);
	free(dir);
	return EXIT_OK;
}
