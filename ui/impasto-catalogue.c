/* impasto-catalogue.c — the "Get more styles…" window (GTK 3): the catalogue's entries with name,
 * family, download size and licence, the chosen entry's description, author and licence before
 * anything is downloaded, and Install with a progress bar (stage and bytes) and Stop.
 *
 * The install itself is cli/models_install.c's (impasto_models_install_async): download, sha256,
 * conversion and the renames into place run in its worker thread, progress arrives here in the
 * main context, and Stop cancels its GCancellable; the library builds everything in a hidden folder
 * and leaves nothing behind when cancelled or refused.  Entries without a pinned sha256 install only
 * after the user ticks the trust box (the library's trust_unverified).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "impasto-catalogue.h"

#include "i18n.h"
#include "models.h"
#include "models_install.h"

enum { COL_INDEX, COL_NAME, COL_FAMILY, COL_SIZE, COL_LICENCE, COL_INSTALLED, N_COLS };
enum { RESPONSE_INSTALL = 1, RESPONSE_STOP = 2 };

typedef struct {
  GtkWidget    *window;
  GtkWidget    *tree;
  GtkListStore *store;
  GtkWidget    *details;   /* description, author, licence, size of the chosen entry */
  GtkWidget    *trust;     /* check box, shown for entries without a pinned sha256 */
  GtkWidget    *trust_note;
  GtkWidget    *progress;
  GtkWidget    *error_bar;
  GtkWidget    *error_label;
  GPtrArray    *entries;   /* ImpastoCatalogueEntry*, or NULL when the catalogue is unreadable */
  gchar        *folder;
  GCancellable *cancellable; /* set while an install runs */
  gboolean      closing;
  GMainLoop    *loop;
  ImpastoCatalogueInstalled installed;
  gpointer      installed_data;
} Catalogue;

static gboolean
test_log (void)
{
  /* the dialog test follows the window through these lines (as the preview's) */
  return g_getenv ("IMPASTO_PREVIEW_LOG") != NULL;
}

static const gchar *
licence_text (const ImpastoCatalogueEntry *e)
{
  /* the library's marker for entries whose publisher states none, in the user's language */
  return g_strcmp0 (e->license, "no licence stated") == 0 ? _("no licence stated") : e->license;
}

static gchar *
size_text (const ImpastoCatalogueEntry *e)
{
  const gint64 size = impasto_catalogue_entry_size (e);
  return size >= 0 ? g_format_size ((guint64) size) : g_strdup (_("unknown"));
}

static gboolean
is_installed (Catalogue *c, const gchar *name)
{
  GPtrArray *folders = g_ptr_array_new ();
  g_ptr_array_add (folders, c->folder);
  ImpastoStyleList *list = impasto_style_list_scan (folders);
  const gboolean found = impasto_style_list_find (list, name) != NULL;
  impasto_style_list_free (list);
  g_ptr_array_unref (folders);
  return found;
}

/* The chosen entry and its row, or NULL. */
static const ImpastoCatalogueEntry *
chosen_entry (Catalogue *c, GtkTreeIter *iter_out)
{
  GtkTreeIter iter;
  GtkTreeModel *model;
  GtkTreeSelection *selection = gtk_tree_view_get_selection (GTK_TREE_VIEW (c->tree));
  if (c->entries == NULL || !gtk_tree_selection_get_selected (selection, &model, &iter))
    return NULL;
  guint index = 0;
  gtk_tree_model_get (model, &iter, COL_INDEX, &index, -1);
  if (iter_out != NULL)
    *iter_out = iter;
  return index < c->entries->len ? g_ptr_array_index (c->entries, index) : NULL;
}

static void
update_buttons (Catalogue *c)
{
  GtkTreeIter iter;
  const ImpastoCatalogueEntry *e = chosen_entry (c, &iter);
  gboolean installed = FALSE;
  if (e != NULL)
    gtk_tree_model_get (GTK_TREE_MODEL (c->store), &iter, COL_INSTALLED, &installed, -1);
  const gboolean busy = c->cancellable != NULL;
  const gboolean pinned = e != NULL && impasto_catalogue_entry_pinned (e);
  gtk_widget_set_visible (c->trust, e != NULL && !pinned && !installed);
  gtk_widget_set_visible (c->trust_note, e != NULL && !pinned && !installed);
  gtk_widget_set_sensitive (c->trust, !busy);
  gtk_dialog_set_response_sensitive (GTK_DIALOG (c->window), RESPONSE_INSTALL,
                                     e != NULL && !busy && !installed &&
                                     (pinned || gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (c->trust))));
  gtk_dialog_set_response_sensitive (GTK_DIALOG (c->window), RESPONSE_STOP, busy);
  gtk_widget_set_sensitive (c->tree, !busy);
}

static void
show_details (Catalogue *c)
{
  GtkTreeIter iter;
  const ImpastoCatalogueEntry *e = chosen_entry (c, &iter);
  if (e == NULL)
    {
      gtk_label_set_text (GTK_LABEL (c->details), "");
      return;
    }
  gboolean installed = FALSE;
  gtk_tree_model_get (GTK_TREE_MODEL (c->store), &iter, COL_INSTALLED, &installed, -1);
  gchar *size = size_text (e);
  GString *text = g_string_new (NULL);
  gchar *part = g_markup_printf_escaped ("<b>%s</b>", e->display_name);
  g_string_append (text, part);
  g_free (part);
  if (e->direction != NULL)
    {
      part = g_markup_printf_escaped (_("Direction: %s"), e->direction);
      g_string_append_printf (text, "\n%s", part);
      g_free (part);
    }
  if (e->description != NULL)
    {
      part = g_markup_escape_text (e->description, -1);
      g_string_append_printf (text, "\n%s", part);
      g_free (part);
    }
  if (e->author != NULL)
    {
      part = g_markup_printf_escaped (_("Author: %s"), e->author);
      g_string_append_printf (text, "\n%s", part);
      g_free (part);
    }
  part = g_markup_printf_escaped ("%s <b>%s</b>", _("Licence:"), licence_text (e));
  g_string_append_printf (text, "\n%s", part);
  g_free (part);
  part = g_markup_printf_escaped (_("Download: %s"), size);
  g_string_append_printf (text, "\n%s", part);
  g_free (part);
  if (installed)
    {
      part = g_markup_printf_escaped (_("Already installed in %s."), c->folder);
      g_string_append_printf (text, "\n%s", part);
      g_free (part);
    }
  gtk_label_set_markup (GTK_LABEL (c->details), text->str);
  g_string_free (text, TRUE);
  g_free (size);
}

static void
selection_changed (GtkTreeSelection *selection, Catalogue *c)
{
  /* trust is given to one download at a time */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (c->trust), FALSE);
  show_details (c);
  update_buttons (c);
}

static void
trust_toggled (GtkToggleButton *toggle, Catalogue *c)
{
  update_buttons (c);
}

static void
show_error (Catalogue *c, const gchar *text)
{
  gtk_label_set_text (GTK_LABEL (c->error_label), text != NULL ? text : "");
  gtk_widget_set_visible (c->error_bar, text != NULL);
}

static gboolean
on_progress (const gchar *stage, const gchar *detail, gint64 done, gint64 total, gpointer user_data)
{
  Catalogue *c = user_data;
  GtkProgressBar *bar = GTK_PROGRESS_BAR (c->progress);
  gchar *text = NULL;
  if (g_strcmp0 (stage, "download") == 0)
    {
      gchar *got = g_format_size ((guint64) MAX (done, 0));
      if (total > 0)
        {
          gchar *all = g_format_size ((guint64) total);
          text = g_strdup_printf (_("Downloading %s: %s of %s"), detail != NULL ? detail : "", got, all);
          gtk_progress_bar_set_fraction (bar, CLAMP ((gdouble) done / total, 0.0, 1.0));
          g_free (all);
        }
      else
        {
          text = g_strdup_printf (_("Downloading %s: %s"), detail != NULL ? detail : "", got);
          gtk_progress_bar_pulse (bar);
        }
      g_free (got);
    }
  else if (g_strcmp0 (stage, "convert") == 0)
    text = g_strdup (_("Converting the network to ONNX…"));
  else if (g_strcmp0 (stage, "thumbnail") == 0 && detail == NULL)
    text = g_strdup (_("Drawing the thumbnail…"));
  else if (g_strcmp0 (stage, "install") == 0)
    text = g_strdup_printf (_("Installing %s…"), detail != NULL ? detail : "");
  if (text != NULL)
    gtk_progress_bar_set_text (bar, text);
  if (test_log ())
    g_printerr ("impasto: catalogue progress %s %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT "\n", stage,
                done, total);
  g_free (text);
  return TRUE; /* Stop cancels the GCancellable itself */
}

static void
mark_installed (Catalogue *c, const gchar *name)
{
  GtkTreeIter iter;
  gboolean more = gtk_tree_model_get_iter_first (GTK_TREE_MODEL (c->store), &iter);
  for (; more; more = gtk_tree_model_iter_next (GTK_TREE_MODEL (c->store), &iter))
    {
      guint index = 0;
      gtk_tree_model_get (GTK_TREE_MODEL (c->store), &iter, COL_INDEX, &index, -1);
      const ImpastoCatalogueEntry *e = g_ptr_array_index (c->entries, index);
      if (g_strcmp0 (e->name, name) == 0)
        gtk_list_store_set (c->store, &iter, COL_INSTALLED, TRUE, -1);
    }
}

static void
install_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Catalogue *c = user_data;
  GError *error = NULL;
  gchar *name = impasto_models_install_finish (result, &error);
  GtkProgressBar *bar = GTK_PROGRESS_BAR (c->progress);
  g_clear_object (&c->cancellable);
  if (name != NULL)
    {
      gchar *text = g_strdup_printf (_("Installed %s: it is now chosen in the style list."), name);
      gtk_progress_bar_set_fraction (bar, 1.0);
      gtk_progress_bar_set_text (bar, text);
      g_free (text);
      mark_installed (c, name);
      if (test_log ())
        g_printerr ("impasto: catalogue installed %s\n", name);
      if (c->installed != NULL)
        c->installed (name, c->installed_data);
    }
  else if (g_error_matches (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CANCELLED) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      gtk_progress_bar_set_fraction (bar, 0.0);
      gtk_progress_bar_set_text (bar, _("Stopped: nothing was installed."));
      if (test_log ())
        g_printerr ("impasto: catalogue cancelled: %s\n", error->message);
    }
  else
    {
      gtk_progress_bar_set_fraction (bar, 0.0);
      gtk_progress_bar_set_text (bar, "");
      gchar *text = g_strdup_printf (_("The style was not installed: %s"), error->message);
      show_error (c, text);
      g_free (text);
      if (test_log ())
        g_printerr ("impasto: catalogue failed: %s\n", error->message);
    }
  g_clear_error (&error);
  g_free (name);
  show_details (c);
  update_buttons (c);
  if (c->closing)
    g_main_loop_quit (c->loop);
  else
    gtk_widget_grab_focus (c->tree);
}

static void
start_install (Catalogue *c)
{
  const ImpastoCatalogueEntry *e = chosen_entry (c, NULL);
  if (e == NULL || c->cancellable != NULL)
    return;
  ImpastoInstallOptions options = {
    .trust_unverified = !impasto_catalogue_entry_pinned (e) &&
                        gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (c->trust)),
    .progress = on_progress,
    .progress_data = c,
  };
  show_error (c, NULL);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (c->progress), 0.0);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (c->progress), _("Starting the download…"));
  c->cancellable = g_cancellable_new ();
  if (test_log ())
    g_printerr ("impasto: catalogue install %s\n", e->name);
  /* the catalogue is read again by name: the library checks the entry it installs itself */
  impasto_models_install_async (e->name, c->folder, &options, c->cancellable, install_done, c);
  update_buttons (c);
}

static void
on_response (GtkDialog *dialog, gint response, Catalogue *c)
{
  if (response == RESPONSE_INSTALL)
    start_install (c);
  else if (response == RESPONSE_STOP)
    {
      if (c->cancellable != NULL)
        g_cancellable_cancel (c->cancellable);
    }
  else if (c->cancellable != NULL) /* Close, Escape, the window closed: stop first */
    {
      c->closing = TRUE;
      g_cancellable_cancel (c->cancellable);
    }
  else
    g_main_loop_quit (c->loop);
}

static gboolean
on_delete (GtkWidget *window, GdkEvent *event, Catalogue *c)
{
  /* GtkDialog has already answered with GTK_RESPONSE_DELETE_EVENT (on_response); the window is
   * destroyed by impasto_catalogue_window_run once nothing runs */
  return TRUE;
}

/* chars: the column's width in characters, its text ellipsized beyond; 0: as wide as its text */
static void
add_column (GtkWidget *tree, const gchar *title, gint column, gboolean expand, gint chars)
{
  GtkCellRenderer *cell = gtk_cell_renderer_text_new ();
  if (chars > 0)
    g_object_set (cell, "ellipsize", PANGO_ELLIPSIZE_END, "width-chars", chars, NULL);
  GtkTreeViewColumn *col = gtk_tree_view_column_new_with_attributes (title, cell, "text", column, NULL);
  gtk_tree_view_column_set_expand (col, expand);
  gtk_tree_view_column_set_resizable (col, TRUE);
  gtk_tree_view_append_column (GTK_TREE_VIEW (tree), col);
}

static void
installed_cell (GtkTreeViewColumn *col, GtkCellRenderer *cell, GtkTreeModel *model, GtkTreeIter *iter,
                gpointer data)
{
  gboolean installed = FALSE;
  gtk_tree_model_get (model, iter, COL_INSTALLED, &installed, -1);
  g_object_set (cell, "text", installed ? "✓" : "", NULL);
}

static void
fill_store (Catalogue *c)
{
  for (guint i = 0; c->entries != NULL && i < c->entries->len; i++)
    {
      const ImpastoCatalogueEntry *e = g_ptr_array_index (c->entries, i);
      gchar *size = size_text (e);
      GtkTreeIter iter;
      gtk_list_store_append (c->store, &iter);
      gtk_list_store_set (c->store, &iter, COL_INDEX, i, COL_NAME, e->display_name, COL_FAMILY,
                          e->family != NULL ? e->family : "", COL_SIZE, size, COL_LICENCE,
                          licence_text (e), COL_INSTALLED, is_installed (c, e->name), -1);
      g_free (size);
    }
}

static GtkWidget *
small_wrapped (void)
{
  GtkWidget *label = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 80);
  return label;
}

static void
build_window (Catalogue *c, GtkWindow *parent)
{
  c->window = gtk_dialog_new ();
  gtk_window_set_title (GTK_WINDOW (c->window), _("Get More Styles"));
  gtk_window_set_transient_for (GTK_WINDOW (c->window), parent);
  gtk_window_set_modal (GTK_WINDOW (c->window), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (c->window), 760, 560);
  gtk_dialog_add_button (GTK_DIALOG (c->window), _("_Install"), RESPONSE_INSTALL);
  gtk_dialog_add_button (GTK_DIALOG (c->window), _("_Stop"), RESPONSE_STOP);
  gtk_dialog_add_button (GTK_DIALOG (c->window), _("_Close"), GTK_RESPONSE_CLOSE);

  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (c->window))), box, TRUE, TRUE, 0);

  c->error_bar = gtk_info_bar_new ();
  gtk_info_bar_set_message_type (GTK_INFO_BAR (c->error_bar), GTK_MESSAGE_ERROR);
  c->error_label = small_wrapped ();
  gtk_label_set_selectable (GTK_LABEL (c->error_label), TRUE);
  gtk_container_add (GTK_CONTAINER (gtk_info_bar_get_content_area (GTK_INFO_BAR (c->error_bar))),
                     c->error_label);

  GtkWidget *label = gtk_label_new_with_mnemonic (_("A_vailable styles:"));
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_box_pack_start (GTK_BOX (box), label, FALSE, FALSE, 0);

  c->store = gtk_list_store_new (N_COLS, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
                                 G_TYPE_STRING, G_TYPE_BOOLEAN);
  fill_store (c);
  c->tree = gtk_tree_view_new_with_model (GTK_TREE_MODEL (c->store));
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), c->tree);
  /* the licence can be a sentence: the details below show it whole */
  add_column (c->tree, _("Style"), COL_NAME, TRUE, 26);
  add_column (c->tree, _("Family"), COL_FAMILY, FALSE, 0);
  add_column (c->tree, _("Size"), COL_SIZE, FALSE, 0);
  add_column (c->tree, _("Licence"), COL_LICENCE, FALSE, 18);
  GtkTreeViewColumn *col = gtk_tree_view_column_new ();
  gtk_tree_view_column_set_title (col, _("Installed"));
  GtkCellRenderer *cell = gtk_cell_renderer_text_new ();
  g_object_set (cell, "xalign", 0.5f, NULL);
  gtk_tree_view_column_pack_start (col, cell, TRUE);
  gtk_tree_view_column_set_cell_data_func (col, cell, installed_cell, NULL, NULL);
  gtk_tree_view_append_column (GTK_TREE_VIEW (c->tree), col);
  GtkWidget *scrolled = gtk_scrolled_window_new (NULL, NULL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (scrolled), GTK_SHADOW_IN);
  gtk_widget_set_size_request (scrolled, -1, 220);
  gtk_container_add (GTK_CONTAINER (scrolled), c->tree);
  gtk_box_pack_start (GTK_BOX (box), scrolled, TRUE, TRUE, 0);

  c->details = small_wrapped ();
  gtk_label_set_selectable (GTK_LABEL (c->details), TRUE);
  gtk_widget_set_size_request (c->details, -1, 110);
  gtk_label_set_yalign (GTK_LABEL (c->details), 0.0f);
  gtk_box_pack_start (GTK_BOX (box), c->details, FALSE, FALSE, 0);

  c->trust_note = small_wrapped ();
  gtk_label_set_text (GTK_LABEL (c->trust_note),
                      _("The catalogue has no checksum for this download, so Impasto cannot check "
                        "that it is the file the catalogue means. Install it only if you trust "
                        "its source."));
  gtk_box_pack_start (GTK_BOX (box), c->trust_note, FALSE, FALSE, 0);
  c->trust = gtk_check_button_new_with_mnemonic (_("_Trust this download without a checksum"));
  gtk_box_pack_start (GTK_BOX (box), c->trust, FALSE, FALSE, 0);

  c->progress = gtk_progress_bar_new ();
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (c->progress), TRUE);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (c->progress), "");
  gtk_box_pack_start (GTK_BOX (box), c->progress, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), c->error_bar, FALSE, FALSE, 0);

  GtkWidget *where = small_wrapped ();
  gchar *text = g_strdup_printf (_("Styles are downloaded from their publishers, checked and "
                                   "converted, and installed into %s."), c->folder);
  gtk_label_set_text (GTK_LABEL (where), text);
  g_free (text);
  gtk_box_pack_start (GTK_BOX (box), where, FALSE, FALSE, 0);

  gtk_widget_show_all (box);
  gtk_widget_set_no_show_all (c->trust, TRUE);
  gtk_widget_set_no_show_all (c->trust_note, TRUE);
  gtk_widget_set_no_show_all (c->error_bar, TRUE);
  gtk_widget_hide (c->error_bar);

  GtkTreeSelection *selection = gtk_tree_view_get_selection (GTK_TREE_VIEW (c->tree));
  gtk_tree_selection_set_mode (selection, GTK_SELECTION_BROWSE);
  g_signal_connect (selection, "changed", G_CALLBACK (selection_changed), c);
  g_signal_connect (c->trust, "toggled", G_CALLBACK (trust_toggled), c);
  g_signal_connect (c->window, "response", G_CALLBACK (on_response), c);
  g_signal_connect (c->window, "delete-event", G_CALLBACK (on_delete), c);
}

void
impasto_catalogue_window_run (GtkWindow *parent, const gchar *folder, ImpastoCatalogueInstalled installed,
                              gpointer user_data)
{
  Catalogue c = {
    .folder = g_strdup (folder),
    .installed = installed,
    .installed_data = user_data,
    .loop = g_main_loop_new (NULL, FALSE),
  };
  GError *error = NULL;
  c.entries = impasto_catalogue_load (NULL, &error);
  build_window (&c, parent);
  if (c.entries == NULL)
    {
      gchar *text = g_strdup_printf (_("Cannot read the catalogue: %s"), error->message);
      show_error (&c, text);
      g_free (text);
      g_clear_error (&error);
    }
  GtkTreeIter first;
  if (gtk_tree_model_get_iter_first (GTK_TREE_MODEL (c.store), &first))
    gtk_tree_selection_select_iter (gtk_tree_view_get_selection (GTK_TREE_VIEW (c.tree)), &first);
  show_details (&c);
  update_buttons (&c);
  gtk_widget_grab_focus (c.tree);
  gtk_window_present (GTK_WINDOW (c.window));
  if (test_log ())
    g_printerr ("impasto: catalogue window open (%u entries)\n", c.entries != NULL ? c.entries->len : 0);

  g_main_loop_run (c.loop);

  gtk_widget_destroy (c.window);
  g_object_unref (c.store);
  g_main_loop_unref (c.loop);
  if (c.entries != NULL)
    g_ptr_array_unref (c.entries);
  g_free (c.folder);
}
