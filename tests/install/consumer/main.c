#include <ember.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    printf("ember %s\n", ember_version());
    return strcmp(ember_version(), EMBER_VERSION_STRING) == 0 ? 0 : 1;
}
