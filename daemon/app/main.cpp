#include "daemon/app/cli.h"

int main(int argc, char** argv) { return replywatch::app::runCli(argc, argv); }
