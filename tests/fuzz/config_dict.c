/* config_dict.c - print a libFuzzer dictionary of the config's sections and keys, from
 * config.c's own table, so the dictionary never lags behind it (tests/fuzz/run.sh). */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

int main(void)
{
    const char *section, *key, *last = "";

    for (int i = 0; i < config_key_count(); i++) {
        config_key_name(i, &section, &key);
        if (strcmp(section, last) != 0)
            printf("section_%d=\"[%s]\\x0A\"\n", i, section);
        printf("key_%d=\"%s = \"\n", i, key);
        last = section;
    }
    return 0;
}
