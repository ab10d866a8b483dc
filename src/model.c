/*
 * model.c — a trained model read back from its checkpoint (model.h): the
 * stored config, the network with its parameters, the input statistics
 * and the class names; and the forward of one chunk of rows.
 */
#include "gradscope/model.h"
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/data.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_load(gs_model *m, const char *path)
{
    memset(m, 0, sizeof *m);
    char *text = NULL;
    int rc = ckpt_read_config(path, &text);
    if (rc)
        return rc;
    rc = cfg_load_string(&m->cfg, text, path);
    free(text);
    if (rc)
        return gs_error(GS_ERR_CKPT, "%s: the config it stores does not load: %s", path, gs_last_error());
    m->cfg.reproducible = 0; /* (evaluation computes chunks on their own) */
    if (!(m->net = net_create(&m->cfg, GS_MODEL_CHUNK, NULL, NULL)))
        return gs_error(GS_ERR_CKPT, "%s: cannot build its network: %s", path, gs_last_error());
    gs_train_state st;
    if ((rc = ckpt_read(path, m->net, NULL, &st)))
        return rc;
    const int D = net_n_inputs(m->net);
    if (m->cfg.normalize == GS_NORMALIZE_STANDARDIZE) {
        m->mean = gs_malloc((size_t)D, sizeof(float), "input means");
        m->std = gs_malloc((size_t)D, sizeof(float), "input standard deviations");
        if (!m->mean || !m->std)
            return GS_ERR_RUNTIME;
        if ((rc = ckpt_read_normalize(path, D, m->mean, m->std)))
            return rc;
    }
    return ckpt_read_classes(path, &m->classes, &m->n_classes);
}

void model_free(gs_model *m)
{
    net_free(m->net);
    free(m->mean);
    free(m->std);
    model_free_names(m->classes, m->n_classes);
    memset(m, 0, sizeof *m);
}

const float *model_forward(gs_model *m, float *X, int n)
{
    if (m->mean)
        data_standardize_rows(X, n, net_n_inputs(m->net), m->mean, m->std);
    gs_pass eval = { .train = 0, .global_rows = n };
    return net_forward(m->net, X, n, &eval, NULL, 0.0f);
}

void model_free_names(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int model_read_class_names(const char *path, const char *dset, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1, a = -1, t = -1, sp = -1, mt = -1;
    if (f < 0 || (d = H5Dopen2(f, dset, H5P_DEFAULT)) < 0 || H5Aexists(d, "classes") <= 0)
        goto done; /* no names: not an error */
    hssize_t k;
    if ((a = H5Aopen(d, "classes", H5P_DEFAULT)) < 0 || (t = H5Aget_type(a)) < 0 || H5Tget_class(t) != H5T_STRING ||
        (sp = H5Aget_space(a)) < 0 || (k = H5Sget_simple_extent_npoints(sp)) < 1 || k > 1 << 20) {
        rc = gs_error(GS_ERR_DATA, "data file '%s', dataset '%s': attribute 'classes' is not a list of strings",
                      path, dset);
        goto done;
    }
    char **v = gs_calloc((size_t)k, sizeof *v, "class names");
    mt = H5Tcopy(H5T_C_S1);
    if (!v || mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5T_CSET_UTF8) < 0) {
        free(v);
        rc = GS_ERR_RUNTIME;
        goto done;
    }
    if (H5Tis_variable_str(t) > 0) {
        if (H5Aread(a, mt, v) < 0)
            rc = gs_error(GS_ERR_DATA, "data file '%s': cannot read the class names of '%s'", path, dset);
        for (hssize_t i = 0; i < k && !rc; i++) { /* own copies: HDF5's are freed with its own allocator */
            char *c = strdup(v[i] ? v[i] : "");
            H5free_memory(v[i]);
            v[i] = c;
        }
    } else { /* fixed-length strings */
        size_t len = H5Tget_size(t);
        char *raw = gs_calloc((size_t)k, len + 1, "class names");
        if (!raw || H5Aread(a, t, raw) < 0)
            rc = raw ? gs_error(GS_ERR_DATA, "data file '%s': cannot read the class names of '%s'", path, dset)
                     : GS_ERR_RUNTIME;
        for (hssize_t i = 0; i < k && !rc; i++)
            v[i] = strndup(raw + (size_t)i * len, len);
        free(raw);
    }
    if (rc)
        model_free_names(v, (int)k);
    else {
        *names = v;
        *n = (int)k;
    }
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, func, data);
    return rc;
}
