/* dvc.c - import an existing DVC project (.dvc files, MD5-addressed local cache) into cairn pointers. */
#include "data/data_int.h"
#include "core/error.h"

int data_import_dvc(struct data_repo *r, const char *dvc_dir, json_t **report)
{
	(void)r;
	(void)dvc_dir;
	(void)report;
	return cairn_error_set(CAIRN_EUNSUPPORTED, "import-dvc is not written yet");
}
